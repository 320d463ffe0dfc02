"""对比分析: each side of a two-round comparison equals figures.rectification and the progress
curve of that round alone (the round chosen through the filters, another path to its scope);
the two-date tables equal the figures at each date, with their differences."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from tests.conftest import AS_OF
from tests.test_pages import open_page
from xuncha import figures
from xuncha.figures import attention
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, Store


def round_alone(reader: Reader, round_id: int) -> tuple[int, object]:
    seq = int(reader.query("rounds_list").filter(pl.col("round_id") == round_id)["seq"][0])
    return seq, resolve_scope(reader, Filters(round_from=seq, round_to=seq, as_of=AS_OF))


@pytest.mark.parametrize("round_ids", [(8, 9), (3, 5)])
def test_each_side_is_the_round_alone(demo_reader: Reader, round_ids: tuple[int, int]) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=AS_OF))
    sides = [attention.round_side(demo_reader, scope, r) for r in round_ids]
    for side in sides:
        _, alone = round_alone(demo_reader, side.round_id)
        totals = figures.rectification(demo_reader, alone, "all", cycle_median=False).row(
            0, named=True
        )
        assert side.totals == totals
        assert side.totals["findings"] > 0
        by_l1 = figures.rectification(demo_reader, alone, "category_l1", cycle_median=False)
        assert dict(
            zip(side.by_category["category_l1"], side.by_category["findings"], strict=True)
        ) == dict(zip(by_l1["group_key"], by_l1["findings"], strict=True))
        assert side.by_category["l1_name"].null_count() == 0
        by_unit = figures.rectification(demo_reader, alone, "unit", cycle_median=False)
        assert sorted(side.by_unit.select("unit_name", "findings").rows()) == sorted(
            by_unit.select("group_key", "findings").rows()
        )
        # The curve of 整改进度 (step 7) for the round alone, at its own points.
        curve = figures.progress_curve(demo_reader, alone, step=7)
        assert side.age == curve["day"].max()
        for day, rate in curve.select("day", "completion_rate").rows():
            assert side.completion_at(day) == rate, (side.round_name, day)
    younger = min(s.age for s in sides if s.age is not None)
    assert all(s.completion_at(younger) is not None for s in sides)
    table = attention.categories_side_by_side(*sides)
    assert table["a"].sum() == sides[0].totals["findings"]
    assert table["b"].sum() == sides[1].totals["findings"]
    assert (table["diff"] == table["b"] - table["a"]).all()


def test_two_dates_side_by_side(demo_reader: Reader) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=AS_OF))
    date_a, date_b = dt.date(2025, 6, 30), AS_OF
    kpis = attention.kpi_at_dates(demo_reader, scope, date_a, date_b)
    then = figures.overview(demo_reader, dataclasses.replace(scope, as_of=date_a))
    now = figures.overview(demo_reader, dataclasses.replace(scope, as_of=date_b))
    row = dict(zip(kpis["figure"], kpis.select("a", "b", "diff").rows(), strict=True))
    assert row["发现问题"] == (
        then["findings"],
        now["findings"],
        now["findings"] - then["findings"],
    )
    assert row["整改完成率(%)"][2] == pytest.approx(
        now["completion_rate"] - then["completion_rate"], abs=1e-9
    )
    rounds = attention.rounds_at_dates(demo_reader, scope, date_a, date_b)
    at_b = figures.rectification(demo_reader, scope, "round", cycle_median=False)
    assert rounds["round_name"].to_list() == at_b["group_key"].to_list()
    assert rounds["findings_b"].to_list() == at_b["findings"].to_list()
    at_a = figures.rectification(
        demo_reader, dataclasses.replace(scope, as_of=date_a), "round", cycle_median=False
    )
    fed_back = dict(zip(at_a["group_key"], at_a["findings"], strict=True))
    assert [fed_back.get(n, 0) for n in rounds["round_name"]] == rounds["findings_a"].to_list()
    assert (rounds["findings_diff"] == rounds["findings_b"] - rounds["findings_a"]).all()
    assert rounds["findings_diff"].sum() > 0


def test_the_page_renders_both_comparisons(app_env: Store) -> None:
    at = open_page("pages/compare.py")
    assert at.title[0].value == "对比分析"
    columns = [set(f.value.columns) for f in at.dataframe]
    assert any("差值（乙−甲）" in c and "一级类别名称" in c for c in columns)
    assert any("问题数·差值" in c for c in columns)
    summary = next(f.value for f in at.dataframe if "指标" in f.value.columns)
    assert len(summary.columns) == 3
