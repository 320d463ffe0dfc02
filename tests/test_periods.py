"""The rectification period (整改期) of inspections and rounds (xuncha.figures.periods): the
latest original deadline of the dated measures, kept between the configured bounds; long-term
measures and measures not yet known on the date never lengthen it; a round's ends with its
last inspection's; the rule's configuration file is checked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests.builders import StoreBuilder
from xuncha.figures import periods
from xuncha.store.reader import open_reader

D = dt.date


def _add_months(day: dt.date, months: int) -> dt.date:
    """An independent month addition (the last day of a shorter month when the day is past
    it), to check the SQL's."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    for last in (31, 30, 29, 28):
        try:
            return D(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    b = StoreBuilder()
    r1 = b.round("第一轮", seq=1)
    r2 = b.round("第二轮", seq=2)
    units = [b.unit(f"单位{i}") for i in range(5)]
    # 1: the latest deadline lies inside the bounds -> it ends the period.
    i1 = b.inspection(r1, units[0], feedback=D(2024, 1, 10))
    f = b.finding(i1)
    b.measure(f, deadline=D(2024, 3, 31))
    b.measure(f, deadline=D(2024, 8, 20))
    b.measure(f, deadline=None)  # long-term: no date, never lengthens the period
    # 2: every deadline soon after 反馈 -> the 集中整改期 (3 months) is the shortest period.
    i2 = b.inspection(r1, units[1], feedback=D(2024, 1, 31))
    b.measure(b.finding(i2), deadline=D(2024, 2, 15))
    # 3: a deadline three years away -> cut at 12 months.
    i3 = b.inspection(r2, units[2], feedback=D(2025, 5, 1))
    b.measure(b.finding(i3), deadline=D(2028, 5, 1))
    # 4: only long-term measures -> the shortest period.
    i4 = b.inspection(r2, units[3], feedback=D(2025, 6, 1))
    b.measure(b.finding(i4), deadline=None)
    # 5: a measure first recorded long after 反馈 (a later ledger) is unknown before that.
    i5 = b.inspection(r2, units[4], feedback=D(2025, 6, 1))
    b.measure(
        b.finding(i5),
        deadline=D(2026, 3, 1),
        history=[(D(2025, 12, 1), "IN_PROGRESS")],
    )
    return b.build(tmp_path_factory.mktemp("periods") / "store")


def _ends(store, as_of: dt.date, rule: periods.PeriodRule | None = None) -> dict[int, dt.date]:  # type: ignore[no-untyped-def]
    reader = open_reader(store)
    try:
        frame = periods.inspection_periods(reader, None, as_of, rule)
    finally:
        reader.close()
    return dict(frame.select("inspection_id", "period_end").rows())


def test_each_inspection_ends_on_its_latest_deadline_within_the_bounds(store) -> None:  # type: ignore[no-untyped-def]
    ends = _ends(store, D(2026, 12, 1))
    assert ends[1] == D(2024, 8, 20)
    assert ends[2] == _add_months(D(2024, 1, 31), 3) == D(2024, 4, 30)
    assert ends[3] == _add_months(D(2025, 5, 1), 12)
    assert ends[4] == _add_months(D(2025, 6, 1), 3)
    assert ends[5] == D(2026, 3, 1)


def test_a_measure_recorded_later_is_unknown_before_it_was_recorded(store) -> None:  # type: ignore[no-untyped-def]
    assert _ends(store, D(2025, 11, 30))[5] == _add_months(D(2025, 6, 1), 3)
    assert _ends(store, D(2025, 12, 1))[5] == D(2026, 3, 1)


def test_the_bounds_follow_the_rule(store) -> None:  # type: ignore[no-untyped-def]
    ends = _ends(store, D(2026, 12, 1), periods.PeriodRule(min_months=6, max_months=24))
    assert ends[1] == D(2024, 8, 20)  # still the deadline: inside 6–24 months
    assert ends[2] == _add_months(D(2024, 1, 31), 6)
    assert ends[3] == _add_months(D(2025, 5, 1), 24)


def test_a_round_ends_with_its_last_inspection_and_is_provisional_until_then(store) -> None:  # type: ignore[no-untyped-def]
    reader = open_reader(store)
    try:
        on = D(2026, 4, 1)  # round 2: inspection 3 runs to 2026-05-01
        rounds = periods.round_periods(reader, None, on)
        assert periods.finished_rounds(reader, None, on) == {1}
        # A scope without inspection 3 (a filter, or an account confined to some units) sees
        # the same round still in its period: the round's period is the whole round's.
        subset = periods.round_periods(reader, [4, 5], on)
        per = periods.inspection_periods(reader, [4, 5], on)
    finally:
        reader.close()
    row = {r["round_id"]: r for r in rounds.iter_rows(named=True)}
    assert row[2]["period_end"] == _add_months(D(2025, 5, 1), 12)
    assert row[2]["status_label"] == periods.PROVISIONAL and row[1]["status_label"] is None
    assert subset.rows() == rounds.filter(pl.col("round_id") == 2).rows() != []
    assert sorted(per.filter("in_scope")["inspection_id"].to_list()) == [4, 5]
    assert sorted(per["inspection_id"].to_list()) == [3, 4, 5]


def test_the_day_the_period_ends_is_still_inside_it(store) -> None:  # type: ignore[no-untyped-def]
    reader = open_reader(store)
    try:
        last = periods.inspection_periods(reader, [1], D(2024, 8, 20))
        after = periods.inspection_periods(reader, [1], D(2024, 8, 21))
    finally:
        reader.close()
    assert last.filter("in_scope")["finished"].to_list() == [False]
    assert after.filter("in_scope")["finished"].to_list() == [True]


def test_an_inspection_not_fed_back_by_the_date_has_no_period(store) -> None:  # type: ignore[no-untyped-def]
    assert set(_ends(store, D(2024, 1, 20))) == {1}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("min_months = 0", "1 到 60"),
        ("max_months = 'x'", "1 到 60"),
        ("min_months = 13\nmax_months = 12", "不能大于"),
        ("months = 3", "无法识别"),
        ("min_months = ", "不是有效的 TOML"),
        ("min_months = true", "1 到 60"),
    ],
)
def test_a_bad_rule_file_is_refused_with_its_reason(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / periods.CONFIG_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(periods.PeriodConfigError, match=words):
        periods.rule_for_store(tmp_path)


def test_the_rule_file_is_read_and_its_absence_gives_the_defaults(tmp_path: Path) -> None:
    assert periods.rule_for_store(tmp_path) == periods.PeriodRule()
    (tmp_path / "config").mkdir()
    (tmp_path / periods.CONFIG_FILE).write_text("max_months = 18\n", encoding="utf-8")
    rule = periods.rule_for_store(tmp_path)
    assert rule == periods.PeriodRule(min_months=3, max_months=18)
    assert "18 个月" in rule.describe()


def test_a_unit_filter_does_not_end_a_round_early_for_the_ecology_grades(demo_reader) -> None:  # type: ignore[no-untyped-def]
    """On the demo, each round on a date inside its period: a filter to one unit whose own
    inspection has ended its period still sees the round (and the unit's grade) as 暂评."""
    from xuncha import figures
    from xuncha.filters import Filters, resolve_scope

    found = 0
    for r in demo_reader.query("rounds_list", {}).iter_rows(named=True):
        per = periods.inspection_periods(demo_reader, None, dt.date(2100, 1, 1))
        mine = per.filter(pl.col("round_id") == r["round_id"])
        if mine.height < 2 or mine["period_end"].n_unique() < 2:
            continue
        # The day after the earliest inspection's period ended: the round is still in its own.
        day = mine["period_end"].min() + dt.timedelta(days=1)
        early = mine.filter(pl.col("period_end") < day).row(0, named=True)
        narrow = resolve_scope(
            demo_reader,
            Filters(
                round_from=r["seq"], round_to=r["seq"], unit_ids=(early["unit_id"],), as_of=day
            ),
        )
        assert periods.finished_rounds(demo_reader, narrow.ids_param(), day) == frozenset()
        cards = figures.scorecards(demo_reader, narrow)
        unit = cards.units.filter(pl.col("unit_id") == early["unit_id"]).row(0, named=True)
        assert unit["provisional"]
        assert unit["small_sample"] or unit["grade_label"].endswith("（暂评）")
        found += 1
    assert found >= 3
