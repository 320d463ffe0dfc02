"""整改进度 as of any date: the progress curve reads the difference arrays kept at write time
for the inspections settled by the date (curve_cells, curve_deltas_at) and the timeline for
those still changing on it; the online rectification counts per unit are summed in one pass.
Each is checked here against an independent computation, for many dates and filter states:
the curve against the same store with no inspection ever settled (the timelines alone) and
against the curve counted in Polars from finding_timeline, interval by interval; the online
counts against Polars over rectify_steps; and a hand-built store on every day something in it
changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest

from tests.builders import StoreBuilder
from tests.test_past_state import (
    _dates,
    _filters,
    _run,
    _scope,
    both_branches,
    real_and_timelines,
)
from xuncha.filters import Filters
from xuncha.store import Reader, Store, open_reader

STEPS = (1, 7, 30)


@pytest.fixture(scope="module")
def cons(
    demo_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]]:
    with real_and_timelines(demo_store, tmp_path_factory.mktemp("past_progress")) as pair:
        yield pair


def _curve_in_polars(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], step: int
) -> pl.DataFrame:
    """The curve counted from the findings' intervals: of each round's findings holding on
    the date, those whose interval holding 反馈日期 + day was DONE (BASICALLY_DONE), an
    interval not begun by the date ignored and one not ended by it taken as open (counted per
    day by binary search in the sorted start and end days); the round's days from 0 by `step`
    up to as-of − its latest 反馈日期, and that last day."""
    as_of: dt.date = params["as_of"]
    t = con.sql(
        "SELECT finding_id, inspection_id, round_id, category_l1, category_l2, feedback_date,"
        " valid_from, valid_to, status FROM finding_timeline WHERE valid_from <= $d",
        params={"d": as_of},
    ).pl()
    for column, key in (
        ("inspection_id", "inspection_ids"),
        ("category_l1", "category_l1"),
        ("category_l2", "category_l2"),
    ):
        if params[key] is not None:
            t = t.filter(pl.col(column).is_in(list(params[key])))
    t = t.with_columns(
        to=pl.when(pl.col("valid_to") <= as_of).then(pl.col("valid_to")).otherwise(None)
    )
    holding = t.filter(pl.col("to").is_null())
    assert holding["finding_id"].n_unique() == holding.height  # one interval each
    rounds = con.sql("SELECT round_id, name AS round_name, seq FROM rounds").pl()
    span = holding.group_by("round_id").agg(
        findings=pl.len(), last_day=(pl.lit(as_of) - pl.col("feedback_date").max()).dt.total_days()
    )
    rows = []
    for round_id, findings, last_day in span.iter_rows():
        days = np.array(sorted({*range(0, last_day + 1, step), last_day}))
        mine = t.filter(pl.col("round_id") == round_id).with_columns(
            start=(pl.col("valid_from") - pl.col("feedback_date")).dt.total_days(),
            end=(pl.col("to") - pl.col("feedback_date")).dt.total_days(),
        )
        assert mine.filter(pl.col("end") < pl.col("start")).is_empty()
        on: dict[str, np.ndarray] = {}
        for status in ("DONE", "BASICALLY_DONE"):
            # An interval counts on day d when start <= d and (no end or d < end); with
            # start <= end those are the intervals begun by d less those ended by d.
            these = mine.filter(pl.col("status") == status)
            starts = np.sort(these["start"].to_numpy())
            ends = np.sort(these["end"].drop_nulls().to_numpy())
            begun = np.searchsorted(starts, days, side="right")
            on[status] = begun - np.searchsorted(ends, days, side="right")
        for k, day in enumerate(days):
            rows.append(
                {
                    "round_id": round_id,
                    "day": int(day),
                    "findings": findings,
                    "findings_done": int(on["DONE"][k]),
                    "findings_basically_done": int(on["BASICALLY_DONE"][k]),
                }
            )
    if not rows:
        return pl.DataFrame()
    return (
        pl.DataFrame(rows)
        .join(rounds, on="round_id")
        .sort("seq", "day")
        .select(
            "round_id",
            "round_name",
            "seq",
            "day",
            "findings",
            "findings_done",
            "findings_basically_done",
        )
    )


def _same_curve(got: pl.DataFrame, want: pl.DataFrame) -> bool:
    if want.is_empty():
        return got.is_empty()
    cast = [
        pl.col(c).cast(pl.Int64)
        for c in ("round_id", "seq", "day", "findings", "findings_done", "findings_basically_done")
    ]
    return got.with_columns(cast).equals(want.with_columns(cast))


def test_the_curve_s_rows_are_the_timeline_s_on_every_date(
    demo_reader: Reader, cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]
) -> None:
    """curve_deltas_at (curve_whole, curve_settled or curve_cells for the settled
    inspections, the timeline for the rest) gives what the curve reads, per round (its
    findings and latest 反馈日期) and per round and day (the changes), as the plain timeline
    computation does."""
    real, _ = cons
    rounds = (
        "SELECT round_id, sum(findings)::BIGINT AS findings,"
        " max(feedback_date) FILTER (WHERE findings > 0) AS last_feedback FROM {}"
        " GROUP BY ALL HAVING sum(findings) > 0 ORDER BY ALL"
    )
    days = (
        "SELECT round_id, day, sum(d_done)::BIGINT AS d_done, sum(d_basic)::BIGINT AS d_basic"
        " FROM {} GROUP BY ALL HAVING sum(d_done) <> 0 OR sum(d_basic) <> 0 ORDER BY ALL"
    )
    fast = "curve_deltas_at($as_of, $current, $ids, $l1, $l2)"
    slow = "curve_deltas_timeline($as_of, $ids, $l1, $l2)"
    compared = 0
    for filters in _filters(demo_reader):
        for day in _dates(real):
            p = _scope(demo_reader, filters, day).params()
            params = {
                "as_of": day,
                "ids": p["inspection_ids"],
                "l1": p["category_l1"],
                "l2": p["category_l2"],
            }
            for sql in (rounds, days):
                want = real.sql(sql.format(slow), params=params).pl()
                got = real.sql(sql.format(fast), params={**params, "current": p["current"]}).pl()
                assert got.equals(want), (filters, day, sql)
                compared += want.height
    assert compared > 0


def test_every_branch_of_the_curve_s_rows_is_taken(
    demo_reader: Reader, cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]
) -> None:
    """The tests above pass through each table kept at write time: the whole store today
    (curve_whole), the whole store on a past date (curve_settled), a narrower scope
    (curve_cells), each holding rows for the dates compared."""
    real, _ = cons
    counts = real.execute(
        "SELECT (SELECT count(*) FROM curve_whole), (SELECT count(*) FROM curve_settled),"
        " (SELECT count(*) FROM curve_cells)"
    ).fetchall()[0]
    assert all(n > 0 for n in counts)
    scopes = [_scope(demo_reader, f, d) for f in _filters(demo_reader) for d in _dates(real)]
    assert any(s.current and s.ids_param() is None for s in scopes)
    assert any(
        not s.current and s.ids_param() is None and not s.category_l1 and not s.category_l2
        for s in scopes
    )
    assert any(s.ids_param() is not None for s in scopes)
    assert any(not s.current and s.category_l1 for s in scopes)


@pytest.mark.parametrize("step", STEPS)
def test_the_curve_equals_the_timelines_alone_and_polars_on_every_date(
    step: int,
    demo_reader: Reader,
    cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection],
) -> None:
    real, reference = cons
    points = 0
    for filters in _filters(demo_reader):
        for j, day in enumerate(_dates(real)):
            params = _scope(demo_reader, filters, day).params(step=step)
            fast = both_branches(real, reference, "rectification_curve", params)
            # Polars counts day by day: every date for the wider steps, every third for 1.
            if step > 1 or j % 3 == 0:
                assert _same_curve(fast, _curve_in_polars(real, params, step)), (filters, day)
            points += fast.height
    assert points > 0


def test_a_past_date_reads_the_settled_inspections_from_curve_cells(
    demo_reader: Reader, cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]
) -> None:
    """The fast path is taken: on a date when some inspections are settled and some still
    change, curve_cells holds the settled ones' rows (the test above would pass on a
    timeline-only store too)."""
    real, _ = cons
    days = [
        d
        for d in _dates(real)
        if real.execute(
            "SELECT count(*) FILTER (WHERE settled_on <= $d) > 0"
            " AND count(*) FILTER (WHERE started_on <= $d AND settled_on > $d) > 0"
            " FROM inspection_settled",
            {"d": d},
        ).fetchall()[0][0]
    ]
    assert days
    for day in days:
        settled = real.execute(
            "SELECT count(*) FROM curve_cells WHERE settled_on <= $d AND findings > 0", {"d": day}
        ).fetchall()[0][0]
        assert settled > 0


def _online_in_polars(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> pl.DataFrame:
    """Each done claim's state on the date (its last step by then), its returns and review
    decisions, summed per unit."""
    steps = con.sql(
        "SELECT st.submission_id, st.step_id, st.step, st.state, st.step_date, s.unit_id,"
        " s.inspection_id, s.submitted_on FROM rectify_steps st"
        " JOIN rectify_submissions s USING (submission_id)"
        " WHERE s.kind = 'done' AND st.step_date <= $d",
        params={"d": params["as_of"]},
    ).pl()
    if params["inspection_ids"] is not None:
        steps = steps.filter(pl.col("inspection_id").is_in(list(params["inspection_ids"])))
    per = steps.group_by("submission_id").agg(
        pl.col("unit_id").first(),
        state=pl.col("state").sort_by("step_id").last(),
        close=pl.col("step_date").filter(pl.col("step") == "close").max(),
        submitted=pl.col("submitted_on").min(),
        returns=(pl.col("step") == "return").sum(),
        decisions=pl.col("step").is_in(["pass", "return"]).sum(),
    )
    per = per.with_columns(close_days=(pl.col("close") - pl.col("submitted")).dt.total_days())
    return (
        per.group_by("unit_id")
        .agg(
            submitted=pl.len(),
            pending_review=(pl.col("state") == "pending_review").sum(),
            pending_close=(pl.col("state") == "pending_close").sum(),
            returns=pl.col("returns").sum(),
            decisions=pl.col("decisions").sum(),
            closed=(pl.col("state") == "closed").sum(),
            close_days_median=pl.col("close_days").filter(pl.col("state") == "closed").median(),
        )
        .sort("unit_id")
    )


def test_the_online_counts_per_unit_equal_polars(
    demo_reader: Reader, cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]
) -> None:
    real, _ = cons
    counted = 0
    for filters in _filters(demo_reader):
        for day in _dates(real):
            params = _scope(demo_reader, filters, day).params()
            got = _run(real, "rectify_unit_counts", params)
            want = _online_in_polars(real, params)
            columns = want.columns
            assert got.height == want.height, (filters, day)
            if want.is_empty():
                continue
            as_int = [pl.col(c).cast(pl.Int64) for c in columns if c != "close_days_median"]
            left = got.select(columns).with_columns(as_int)
            right = want.with_columns(*as_int, pl.col("close_days_median").cast(pl.Float64))
            assert left.with_columns(pl.col("close_days_median").cast(pl.Float64)).equals(right), (
                filters,
                day,
            )
            counted += int(want["submitted"].sum())
    assert counted > 0


def _curve_store(root: Path) -> Store:
    """Two rounds. A finding DONE, reopened and DONE again; one DONE, then only partly
    (BASICALLY_DONE); one BASICALLY_DONE from the start; one recorded after the 反馈日期 and
    DONE; one without measures; an inspection without findings: intervals that start and end
    on both sides of many dates, in inspections fed back on different days."""
    b = StoreBuilder()
    r1, r2 = b.round("第一轮", 1), b.round("第二轮", 2)
    i1 = b.inspection(r1, b.unit("甲局"), dt.date(2024, 3, 1))
    i2 = b.inspection(r1, b.unit("乙镇", peer_group="乡镇街道"), dt.date(2024, 3, 5))
    b.inspection(r1, b.unit("丙委"), dt.date(2024, 3, 9))  # no findings
    i3 = b.inspection(r2, b.unit("丁局"), dt.date(2024, 4, 2))
    f = b.finding(i1, "B03")
    b.measure(
        f,
        deadline=dt.date(2024, 6, 1),
        history=[
            (dt.date(2024, 3, 1), "IN_PROGRESS"),
            (dt.date(2024, 4, 10), "DONE"),
            (dt.date(2024, 7, 1), "IN_PROGRESS"),
            (dt.date(2024, 9, 1), "DONE"),
        ],
        extensions=[(dt.date(2024, 10, 20), dt.date(2025, 1, 1))],
    )
    late = b.finding(i1, "C01")  # recorded later (below)
    b.measure(late, deadline=dt.date(2024, 8, 1), history=[(dt.date(2024, 6, 5), "DONE")])
    b.finding(i2, "A01")  # no measures
    g = b.finding(i2, "B03")
    b.measure(g, deadline=dt.date(2024, 8, 1), history=[(dt.date(2024, 3, 20), "PHASED")])
    h = b.finding(i3, "A01")
    b.measure(h, deadline=dt.date(2024, 7, 1), history=[(dt.date(2024, 5, 9), "DONE")])
    b.measure(
        h,
        deadline=dt.date(2024, 7, 1),
        history=[(dt.date(2024, 5, 9), "DONE"), (dt.date(2024, 7, 15), "PHASED")],
    )
    store = b.build(root)
    store.write(
        lambda con: con.execute(
            "UPDATE findings SET recorded_on = DATE '2024-05-15' WHERE finding_id = ?", [late]
        )
    )
    return store


def test_the_hand_built_store_s_curve_on_every_day(tmp_path: Path) -> None:
    """_curve_store on every third day and around its last change, the whole store, one
    category and one unit: the curve equals the timelines alone and Polars."""
    store = _curve_store(tmp_path / "store")
    reader = open_reader(store)
    try:
        with real_and_timelines(store, tmp_path) as (real, reference):
            changes = [
                dt.date(2024, 3, 1),
                dt.date(2024, 3, 5),
                dt.date(2024, 3, 20),
                dt.date(2024, 4, 2),
                dt.date(2024, 4, 10),
                dt.date(2024, 5, 9),
                dt.date(2024, 5, 15),
                dt.date(2024, 6, 5),
                dt.date(2024, 7, 1),
                dt.date(2024, 7, 15),
                dt.date(2024, 9, 1),
                dt.date(2024, 10, 20),
            ]
            days = {c + dt.timedelta(days=k) for c in changes for k in (-1, 0, 1)}
            days |= {dt.date(2024, 2, 25) + dt.timedelta(days=n) for n in range(0, 320, 10)}
            changed = set()
            for j, day in enumerate(sorted(days)):
                for filters in (Filters(), Filters(category_l1=("B",)), Filters(unit_ids=(1,))):
                    for step in ((1, 7)[j % 2],):
                        params = _scope(reader, filters, day).params(step=step)
                        fast = both_branches(real, reference, "rectification_curve", params)
                        assert _same_curve(fast, _curve_in_polars(real, params, step)), (day, step)
                        for column in ("findings_done", "findings_basically_done"):
                            if fast.height and int(fast[column].max() or 0) > 0:
                                changed.add(column)
            assert changed == {"findings_done", "findings_basically_done"}
    finally:
        reader.close()
