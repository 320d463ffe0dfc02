"""Filters from typed names (xuncha.filters_names): rounds, units, categories and dates, and
what a user with a scope may name."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from xuncha.auth import Access
from xuncha.filters import Filters
from xuncha.filters_names import (
    FilterInputError,
    describe_in_names,
    filters_from_names,
    parse_date,
    visible_ids,
)
from xuncha.store import Reader

SCOPED_ROUND = "十四届市委第六轮巡察"


def _rounds(reader: Reader) -> pl.DataFrame:
    return reader.query("rounds_list")


def _unit(reader: Reader, round_name: str, index: int = 0) -> dict[str, object]:
    """A unit inspected in `round_name` (its id, full and short name)."""
    inspected = reader.query("inspections_list").filter(pl.col("round_name") == round_name)
    unit_id = inspected["unit_id"].to_list()[index]
    units = reader.query("units_list").filter(pl.col("unit_id") == unit_id)
    return units.select("unit_id", "name", "short_name").row(0, named=True)


def _group(reader: Reader) -> Access:
    """A 巡察组 user confined to one round and one of its units."""
    unit = _unit(reader, SCOPED_ROUND)
    return Access.for_role("g", "group", rounds=[SCOPED_ROUND], units=[str(unit["name"])])


def test_round_names_become_the_round_range_of_their_seqs(demo_reader: Reader) -> None:
    rounds = _rounds(demo_reader)
    names, seqs = rounds["name"].to_list(), rounds["seq"].to_list()
    filters = filters_from_names(demo_reader, rounds=[names[3], names[2]])
    assert (filters.round_from, filters.round_to) == (seqs[2], seqs[3])
    one = filters_from_names(demo_reader, rounds=[names[0]])
    assert (one.round_from, one.round_to) == (seqs[0], seqs[0])
    assert filters_from_names(demo_reader) == Filters()


def test_names_match_whatever_their_width_and_spaces(demo_reader: Reader) -> None:
    name = _rounds(demo_reader)["name"].to_list()[3]  # has full-width brackets
    typed = " ".join(name).replace("（", "(").replace("）", ")")
    assert typed != name
    assert filters_from_names(demo_reader, rounds=[typed]) == filters_from_names(
        demo_reader, rounds=[name]
    )


def test_rounds_that_do_not_follow_one_another_are_refused(demo_reader: Reader) -> None:
    names = _rounds(demo_reader)["name"].to_list()
    with pytest.raises(FilterInputError, match=r"^--round 多次指定时须为连续轮次$"):
        filters_from_names(demo_reader, rounds=[names[0], names[2]])


def test_an_unknown_round_is_named_and_every_round_listed(demo_reader: Reader) -> None:
    names = _rounds(demo_reader)["name"].to_list()
    with pytest.raises(FilterInputError) as caught:
        filters_from_names(demo_reader, rounds=["第九十九轮"])
    assert str(caught.value) == f"未知轮次：第九十九轮（可用：{'、'.join(names)}）"


def test_a_unit_is_found_by_full_or_short_name(demo_reader: Reader) -> None:
    unit = _unit(demo_reader, SCOPED_ROUND)
    assert unit["short_name"] != unit["name"]
    by_full = filters_from_names(demo_reader, units=[str(unit["name"])])
    by_short = filters_from_names(demo_reader, units=[str(unit["short_name"])])
    assert by_full.unit_ids == by_short.unit_ids == (unit["unit_id"],)
    with pytest.raises(FilterInputError, match=r"^未知单位：不存在的单位$"):
        filters_from_names(demo_reader, units=["不存在的单位"])


def test_category_codes_are_sorted_into_levels_whatever_their_case(demo_reader: Reader) -> None:
    filters = filters_from_names(demo_reader, categories=[" b", "a01", "C"])
    assert filters.category_l1 == ("B", "C") and filters.category_l2 == ("A01",)
    with pytest.raises(FilterInputError, match=r"^未知类别代码：Q9$"):
        filters_from_names(demo_reader, categories=["q9"])


def test_a_date_is_typed_as_iso_and_a_bad_one_is_one_line(demo_reader: Reader) -> None:
    assert parse_date(None) is None
    assert parse_date("2024-02-29") == dt.date(2024, 2, 29)
    assert filters_from_names(demo_reader, as_of="2024-02-29").as_of == dt.date(2024, 2, 29)
    with pytest.raises(FilterInputError) as caught:
        parse_date("2024-02-30")
    assert str(caught.value) == "日期格式不正确：'2024-02-30'（应为 YYYY-MM-DD）"


def test_a_name_is_checked_before_the_date(demo_reader: Reader) -> None:
    with pytest.raises(FilterInputError, match=r"^未知单位"):
        filters_from_names(demo_reader, units=["不存在的单位"], as_of="nonsense")


def test_without_a_scope_every_round_and_unit_may_be_named(demo_reader: Reader) -> None:
    assert visible_ids(demo_reader, None) == (None, None)
    assert visible_ids(demo_reader, Access.system()) == (None, None)
    assert visible_ids(demo_reader, Access.for_role("o", "office")) == (None, None)


def test_a_scoped_user_may_name_only_the_rounds_and_units_of_their_scope(
    demo_reader: Reader,
) -> None:
    who = _group(demo_reader)
    unit = _unit(demo_reader, SCOPED_ROUND)
    rounds = _rounds(demo_reader)
    own = rounds.filter(pl.col("name") == SCOPED_ROUND)["round_id"].item()
    assert visible_ids(demo_reader, who) == ({own}, {unit["unit_id"]})


def test_for_a_scoped_user_a_foreign_round_reads_as_one_that_does_not_exist(
    demo_reader: Reader,
) -> None:
    who = _group(demo_reader)
    other = next(n for n in _rounds(demo_reader)["name"].to_list() if n != SCOPED_ROUND)
    lines = []
    for name in (other, "第九十九轮"):
        with pytest.raises(FilterInputError) as caught:
            filters_from_names(demo_reader, rounds=[name], access=who)
        assert str(caught.value) == f"未知轮次：{name}（可用：{SCOPED_ROUND}）"
        lines.append(str(caught.value).replace(name, "…"))
    assert lines[0] == lines[1]
    own = filters_from_names(demo_reader, rounds=[SCOPED_ROUND], access=who)
    assert own.round_from == own.round_to is not None


def test_for_a_scoped_user_a_foreign_unit_reads_as_one_that_does_not_exist(
    demo_reader: Reader,
) -> None:
    who = _group(demo_reader)
    foreign = _unit(demo_reader, SCOPED_ROUND, index=1)  # same round, outside the scope
    for name in (str(foreign["name"]), str(foreign["short_name"]), "不存在的单位"):
        with pytest.raises(FilterInputError) as caught:
            filters_from_names(demo_reader, units=[name], access=who)
        assert str(caught.value) == f"未知单位：{name}"
    unit = _unit(demo_reader, SCOPED_ROUND)
    mine = filters_from_names(demo_reader, units=[str(unit["short_name"])], access=who)
    assert mine.unit_ids == (unit["unit_id"],)


def test_filters_are_described_with_round_and_unit_names(demo_reader: Reader) -> None:
    unit = _unit(demo_reader, SCOPED_ROUND)
    filters = filters_from_names(
        demo_reader, rounds=[SCOPED_ROUND], units=[str(unit["short_name"])], categories=["B"]
    )
    assert describe_in_names(demo_reader, filters) == (
        f"轮次 {SCOPED_ROUND}；单位 {unit['name']}；类别 B"
    )
    assert describe_in_names(demo_reader, Filters()) == "全部轮次、全部单位、全部类别"
