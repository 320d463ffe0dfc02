"""Every rectification figure equals an independent computation of DOMAIN.md §5.

The expectations are computed here in plain SQL over the BASE tables only (rounds, units,
inspections, findings, measures, measure_status_history, measure_deadline_history), following
the 口径 literally, and never from the derived `*_timeline` or `finding_repeats` tables that
the product reads. Rates are recomputed with Decimal, half up, two decimals. Hand-built stores
then pin the tricky cases to numbers worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import statistics
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.builders import StoreBuilder
from xuncha import figures
from xuncha.figures import disclosure
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, Store, open_reader

COUNTS = (
    "findings",
    "findings_done",
    "findings_basically_done",
    "findings_open",
    "measures",
    "measures_done",
    "measures_long_term",
    "overdue_measures",
    "overdue_findings",
    "completed_with_deadline",
    "on_time_original",
    "on_time_current",
    "repeat_findings",
    "rebound_findings",
)
# rate → (numerator counts, denominator count), as DOMAIN.md §5 defines them.
RATES = {
    "completion_rate": (("findings_done",), "findings"),
    "completion_rate_lenient": (("findings_done", "findings_basically_done"), "findings"),
    "measure_completion_rate": (("measures_done",), "measures"),
    "on_time_rate": (("on_time_original",), "completed_with_deadline"),
}
FIGURES = (*COUNTS, "cycle_days_median", *RATES)

# The independent definition. Parameters: $inspection_ids, $category_l1 (NULL: all), $as_of,
# $by. One row per group: its key, the counts, and the list of 整改周期 days of DONE findings.
ORACLE_SQL = """
WITH
-- A finding is in scope as of t when it passes the filters and its 反馈日期 <= t.
scope_findings AS (
    SELECT f.finding_id, f.category_l1, f.category_l2, i.feedback_date, i.unit_id, r.seq,
           CASE $by WHEN 'round' THEN r.name WHEN 'unit' THEN u.short_name
                    WHEN 'category_l1' THEN f.category_l1 ELSE '全部' END AS group_key
    FROM findings f
    JOIN inspections i ON i.inspection_id = f.inspection_id
    JOIN rounds r ON r.round_id = i.round_id
    JOIN units u ON u.unit_id = i.unit_id
    WHERE list_contains($inspection_ids::INTEGER[], f.inspection_id)
      AND ($category_l1::VARCHAR[] IS NULL
           OR list_contains($category_l1::VARCHAR[], f.category_l1))
      AND i.feedback_date <= $as_of::DATE
      -- a problem first listed by a later progress ledger counts from that ledger's date
      AND (f.recorded_on IS NULL OR f.recorded_on <= $as_of::DATE)
),
-- A measure's status as of t: the last record dated on or before t; on the same date the
-- record with the higher history_id wins. No record on or before t: not in scope.
status_records AS (
    SELECT h.measure_id, h.status,
           row_number() OVER (PARTITION BY h.measure_id
                              ORDER BY h.status_date DESC, h.history_id DESC) AS rn
    FROM measure_status_history h
    WHERE h.status_date <= $as_of::DATE
),
-- The deadline as of t: the last deadline record in effect on or before t (NULL: none, i.e.
-- 长期坚持), else the original deadline when no record is in effect yet.
deadline_records AS (
    SELECT d.measure_id, d.deadline,
           row_number() OVER (PARTITION BY d.measure_id
                              ORDER BY d.effective_date DESC, d.history_id DESC) AS rn
    FROM measure_deadline_history d
    WHERE d.effective_date <= $as_of::DATE
),
first_done AS (
    SELECT measure_id, min(status_date) AS first_done_on
    FROM measure_status_history WHERE status = 'DONE' GROUP BY measure_id
),
scope_measures AS (
    SELECT m.measure_id, m.finding_id, sf.group_key, s.status, m.deadline_original,
           CASE WHEN d.measure_id IS NULL THEN m.deadline_original ELSE d.deadline END
               AS deadline_now,
           CASE WHEN s.status = 'DONE' THEN coalesce(m.completed_on, fd.first_done_on) END
               AS completed_on
    FROM measures m
    JOIN scope_findings sf ON sf.finding_id = m.finding_id
    JOIN status_records s ON s.measure_id = m.measure_id AND s.rn = 1
    LEFT JOIN deadline_records d ON d.measure_id = m.measure_id AND d.rn = 1
    LEFT JOIN first_done fd ON fd.measure_id = m.measure_id
),
-- The current deadline of a DONE measure's completion (fixed from then on): the deadline
-- recorded by the report that recorded the completion (same batch, same date), if it recorded
-- one; else the deadline in force on the day it was completed.
-- The completing record: the earliest DONE record with no record of another status after it.
completing_records AS (
    SELECT h.measure_id, h.batch_id, h.status_date,
           row_number() OVER (PARTITION BY h.measure_id
                              ORDER BY h.status_date, h.history_id) AS rn
    FROM measure_status_history h
    WHERE h.status = 'DONE'
      AND NOT EXISTS (
          SELECT 1 FROM measure_status_history o
          WHERE o.measure_id = h.measure_id AND o.status <> 'DONE'
            AND (o.status_date > h.status_date
                 OR (o.status_date = h.status_date AND o.history_id > h.history_id)))
),
deadline_at_completion_records AS (
    SELECT sm.measure_id, d.deadline,
           row_number() OVER (PARTITION BY sm.measure_id
                              ORDER BY d.batch_id = c.batch_id AND d.effective_date = c.status_date
                                       DESC,
                                       d.effective_date DESC, d.history_id DESC) AS rn
    FROM scope_measures sm
    JOIN completing_records c ON c.measure_id = sm.measure_id AND c.rn = 1
    JOIN measure_deadline_history d
      ON d.measure_id = sm.measure_id
     AND (d.effective_date <= sm.completed_on
          OR (d.batch_id = c.batch_id AND d.effective_date = c.status_date))
    WHERE sm.status = 'DONE'
),
measure_facts AS (
    SELECT sm.*,
           sm.status <> 'DONE' AND sm.deadline_now < $as_of::DATE AS overdue,
           -- 长期坚持 in its own column: not DONE, and no dated deadline or status LONG_TERM
           sm.status <> 'DONE' AND (sm.deadline_now IS NULL OR sm.status = 'LONG_TERM')
               AS long_term,
           sm.status = 'DONE' AND sm.deadline_original IS NOT NULL AS completed_with_deadline,
           sm.status = 'DONE' AND sm.completed_on <= sm.deadline_original AS on_time_original,
           sm.status = 'DONE' AND sm.completed_on <= CASE WHEN dc.measure_id IS NULL
                                                          THEN sm.deadline_original
                                                          ELSE dc.deadline END
               AS on_time_current
    FROM scope_measures sm
    LEFT JOIN deadline_at_completion_records dc ON dc.measure_id = sm.measure_id AND dc.rn = 1
),
finding_facts AS (
    SELECT sf.finding_id, sf.group_key, sf.feedback_date,
           count(mf.measure_id) AS n,
           count(mf.measure_id) FILTER (WHERE mf.status = 'DONE') AS n_done,
           count(mf.measure_id) FILTER (WHERE mf.status IN ('DONE', 'PHASED', 'LONG_TERM'))
               AS n_done_or_basic,
           coalesce(bool_or(mf.overdue), false) AS overdue,
           max(mf.completed_on) AS last_completed_on
    FROM scope_findings sf
    LEFT JOIN measure_facts mf ON mf.finding_id = sf.finding_id
    GROUP BY sf.finding_id, sf.group_key, sf.feedback_date
),
finding_status AS (
    SELECT *,
           CASE WHEN n > 0 AND n_done = n THEN 'DONE'
                WHEN n > 0 AND n_done_or_basic = n THEN 'BASICALLY_DONE'
                ELSE 'OPEN' END AS status
    FROM finding_facts
),
-- 重复: the same L2 at the same unit in a round with a smaller seq, whenever it was found.
earlier AS (
    SELECT a.finding_id, b.finding_id AS earlier_id, a.feedback_date AS asked_on,
           ib.feedback_date AS earlier_feedback_date
    FROM scope_findings a
    JOIN findings b ON b.category_l2 = a.category_l2
    JOIN inspections ib ON ib.inspection_id = b.inspection_id AND ib.unit_id = a.unit_id
    JOIN rounds rb ON rb.round_id = ib.round_id AND rb.seq < a.seq
),
-- 反弹: such an earlier finding was DONE as of this finding's 反馈日期 (same rules as above).
earlier_status_records AS (
    SELECT e.finding_id, e.earlier_id, h.measure_id, h.status,
           row_number() OVER (PARTITION BY e.finding_id, e.earlier_id, h.measure_id
                              ORDER BY h.status_date DESC, h.history_id DESC) AS rn
    FROM earlier e
    JOIN measures m ON m.finding_id = e.earlier_id
    JOIN measure_status_history h ON h.measure_id = m.measure_id AND h.status_date <= e.asked_on
),
earlier_done AS (
    SELECT e.finding_id, e.earlier_id,
           any_value(e.earlier_feedback_date) <= any_value(e.asked_on)
           AND count(s.measure_id) > 0
           AND count(s.measure_id) FILTER (WHERE s.status = 'DONE') = count(s.measure_id)
               AS was_done
    FROM earlier e
    LEFT JOIN earlier_status_records s
      ON s.finding_id = e.finding_id AND s.earlier_id = e.earlier_id AND s.rn = 1
    GROUP BY e.finding_id, e.earlier_id
),
repeats AS (
    SELECT finding_id, bool_or(was_done) AS rebound FROM earlier_done GROUP BY finding_id
),
finding_counts AS (
    SELECT fs.group_key,
           count(*) AS findings,
           count(*) FILTER (WHERE fs.status = 'DONE') AS findings_done,
           count(*) FILTER (WHERE fs.status = 'BASICALLY_DONE') AS findings_basically_done,
           count(*) FILTER (WHERE fs.status = 'OPEN') AS findings_open,
           count(*) FILTER (WHERE fs.overdue) AS overdue_findings,
           count(rp.finding_id) AS repeat_findings,
           count(*) FILTER (WHERE rp.rebound) AS rebound_findings,
           list(fs.last_completed_on - fs.feedback_date) FILTER (WHERE fs.status = 'DONE')
               AS cycle_days
    FROM finding_status fs
    LEFT JOIN repeats rp ON rp.finding_id = fs.finding_id
    GROUP BY fs.group_key
),
measure_counts AS (
    SELECT group_key,
           count(*) AS measures,
           count(*) FILTER (WHERE status = 'DONE') AS measures_done,
           count(*) FILTER (WHERE long_term) AS measures_long_term,
           count(*) FILTER (WHERE overdue) AS overdue_measures,
           count(*) FILTER (WHERE completed_with_deadline) AS completed_with_deadline,
           count(*) FILTER (WHERE on_time_original) AS on_time_original,
           count(*) FILTER (WHERE on_time_current) AS on_time_current
    FROM measure_facts
    GROUP BY group_key
)
SELECT fc.*,
       coalesce(mc.measures, 0) AS measures,
       coalesce(mc.measures_done, 0) AS measures_done,
       coalesce(mc.measures_long_term, 0) AS measures_long_term,
       coalesce(mc.overdue_measures, 0) AS overdue_measures,
       coalesce(mc.completed_with_deadline, 0) AS completed_with_deadline,
       coalesce(mc.on_time_original, 0) AS on_time_original,
       coalesce(mc.on_time_current, 0) AS on_time_current
FROM finding_counts fc
LEFT JOIN measure_counts mc ON mc.group_key = fc.group_key
"""


def half_up_rate(numerator: int, denominator: int) -> Decimal | None:
    """numerator ÷ denominator as a percentage, two decimals, half up (None when undefined)."""
    if denominator == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )


def with_rates(counts: dict[str, Any]) -> dict[str, Any]:
    row = dict(counts)
    for key, (numerator, denominator) in RATES.items():
        row[key] = half_up_rate(sum(row[c] for c in numerator), row[denominator])
    return row


def expected_figures(
    con: duckdb.DuckDBPyConnection, scope: Scope, by: str
) -> dict[str, dict[str, Any]]:
    """The independent figures, one dict per group key."""
    params = {
        "inspection_ids": list(scope.inspection_ids),
        "category_l1": list(scope.category_l1) if scope.category_l1 else None,
        "as_of": scope.as_of,
        "by": by,
    }
    cursor = con.cursor()
    try:
        result = cursor.execute(ORACLE_SQL, params)
        columns = [d[0] for d in result.description]
        rows = [dict(zip(columns, values, strict=True)) for values in result.fetchall()]
    finally:
        cursor.close()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        days = row.pop("cycle_days") or []
        row["cycle_days_median"] = float(statistics.median(days)) if days else None
        out[row.pop("group_key")] = with_rates({k: int(row[k]) for k in COUNTS}) | {
            "cycle_days_median": row["cycle_days_median"]
        }
    if by == "all" and not out:
        # An empty scope still has one overall row: nothing counted, no rate defined.
        out["全部"] = with_rates(dict.fromkeys(COUNTS, 0)) | {"cycle_days_median": None}
    return out


def product_figures(reader: Reader, scope: Scope, by: str) -> dict[str, dict[str, Any]]:
    """What `figures.rectification` says, in the same shape (rates as exact Decimals)."""
    out: dict[str, dict[str, Any]] = {}
    for row in figures.rectification(reader, scope, by).to_dicts():
        got: dict[str, Any] = {k: int(row[k]) for k in COUNTS}
        median = row["cycle_days_median"]
        got["cycle_days_median"] = None if median is None else float(median)
        for key in RATES:
            got[key] = (
                None if row[key] is None else Decimal(repr(row[key])).quantize(Decimal("0.01"))
            )
        out[str(row["group_key"])] = got
    return out


def differences(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for key in sorted(set(got) | set(want)):
        if key not in got or key not in want:
            where = "only the product" if key in got else "only the SQL definition"
            problems.append(f"group {key!r} is found by {where}")
            continue
        for figure in FIGURES:
            if got[key][figure] != want[key][figure]:
                problems.append(
                    f"{key} {figure}: product {got[key][figure]} ≠ defined {want[key][figure]}"
                )
    return problems


# -- the demo city, many scopes, many dates ----------------------------------------------

FILTERS = {
    "all": Filters(),
    "one_round": Filters(round_from=5, round_to=5),
    "round_range": Filters(round_from=3, round_to=7),
    "peer_group": Filters(peer_groups=("乡镇街道",)),
    "category_l1": Filters(category_l1=("B",)),
    "unit": Filters(unit_ids=(26,)),
}
AS_OF_DATES = (
    dt.date(2021, 6, 30),
    dt.date(2023, 12, 31),
    dt.date(2025, 6, 30),
    dt.date(2026, 11, 20),
)
BYS = ("all", "round", "unit", "category_l1")


@pytest.mark.parametrize("by", BYS)
@pytest.mark.parametrize("as_of", AS_OF_DATES, ids=str)
@pytest.mark.parametrize("filter_name", FILTERS)
def test_every_figure_on_the_demo_equals_its_definition_computed_from_the_base_tables(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection], filter_name: str, as_of: dt.date, by: str
) -> None:
    reader, con = demo_con
    scope = resolve_scope(reader, FILTERS[filter_name].with_(as_of=as_of))
    got = product_figures(reader, scope, by)
    want = expected_figures(con, scope, by)
    assert not differences(got, want), "\n".join(differences(got, want))


@pytest.mark.parametrize("as_of", AS_OF_DATES, ids=str)
@pytest.mark.parametrize("filter_name", FILTERS)
def test_the_overview_headline_counts_equal_the_base_tables(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection], filter_name: str, as_of: dt.date
) -> None:
    """Rounds, units, inspections, clues and outcomes of the overview, counted in Python."""
    reader, con = demo_con
    scope = resolve_scope(reader, FILTERS[filter_name].with_(as_of=as_of))
    got = reader.query(
        "kpi_overview", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    ).row(0, named=True)
    clue = disclosure.totals(reader, scope)  # the system's scope: exact
    got |= {"clues": clue["clues"].low, "clue_persons": clue["persons"].low}
    assert clue["clues"].exact and clue["persons"].exact
    ids = set(scope.inspection_ids)
    kept = [
        (i, r, u)
        for i, r, u, fed in con.execute(
            "SELECT inspection_id, round_id, unit_id, feedback_date FROM inspections"
        ).fetchall()
        if i in ids and fed <= as_of
    ]
    inspections = {i for i, _, _ in kept}
    clues = [
        p
        for i, p in con.execute("SELECT inspection_id, persons FROM clues").fetchall()
        if i in inspections
    ]
    outcomes = [
        row[1:]
        for row in con.execute(
            "SELECT inspection_id, regulations, funds_wan, persons_accountable FROM outcomes"
        ).fetchall()
        if row[0] in inspections
    ]
    want = {
        "rounds": len({r for _, r, _ in kept}),
        "units_inspected": len({u for _, _, u in kept}),
        "inspections": len(kept),
        "clues": len(clues),
        "clue_persons": sum(p or 0 for p in clues),
        "regulations": sum(o[0] or 0 for o in outcomes),
        "funds_wan": sum((o[1] or Decimal(0) for o in outcomes), Decimal(0)),
        "persons_accountable": sum(o[2] or 0 for o in outcomes),
    }
    assert {k: got[k] for k in want} == want
    if filter_name == "all" and as_of == AS_OF_DATES[-1]:
        assert min(want.values()) > 0  # not vacuous: every count is exercised


def test_the_demo_comparison_is_not_vacuous_every_figure_is_exercised(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection],
) -> None:
    reader, con = demo_con
    want = expected_figures(con, resolve_scope(reader, Filters(as_of=dt.date(2025, 6, 30))), "all")
    totals = want["全部"]
    for figure in COUNTS:
        assert totals[figure] > 0, f"{figure} is 0 on the demo, so its comparison proves nothing"
    assert totals["on_time_current"] != totals["on_time_original"]
    assert totals["completion_rate"] < totals["completion_rate_lenient"]
    assert totals["cycle_days_median"] is not None
    # The one-unit and one-round scopes are real subsets, not the whole city or nothing.
    for name in ("one_round", "unit", "peer_group", "category_l1"):
        scope = resolve_scope(reader, FILTERS[name].with_(as_of=dt.date(2025, 6, 30)))
        part = expected_figures(con, scope, "all")["全部"]
        assert 0 < part["findings"] < totals["findings"], name


# -- hand-built stores, numbers worked out by hand -----------------------------------------

FEEDBACK = dt.date(2024, 1, 10)


def figures_of(
    store: Store, as_of: dt.date, by: str = "all"
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(product, independent definition) for a whole hand-built store as of a date."""
    reader = open_reader(store)
    con = store.connect()
    try:
        scope = resolve_scope(reader, Filters(as_of=as_of))
        return product_figures(reader, scope, by), expected_figures(con, scope, by)
    finally:
        con.close()
        reader.close()


def check(
    store: Store, as_of: dt.date, expected: dict[str, Any], group: str = "全部", by: str = "all"
) -> None:
    """The hand-computed numbers hold for the product and for the SQL definition alike."""
    got, want = figures_of(store, as_of, by)
    problems = []
    for source, result in (("product", got), ("SQL definition", want)):
        row = result.get(group)
        if row is None:
            problems.append(f"{source}: no group {group!r} as of {as_of}")
            continue
        for key, value in expected.items():
            if row[key] != value:
                problems.append(f"{source}: {key} as of {as_of} is {row[key]}, expected {value}")
    assert not problems, "\n".join(problems)


def one_inspection() -> tuple[StoreBuilder, int]:
    b = StoreBuilder()
    i = b.inspection(b.round("第一轮", seq=1), b.unit("市财政局"), feedback=FEEDBACK)
    return b, i


def test_a_finding_with_one_done_and_one_phased_measure_is_basically_done_not_done(
    tmp_path: Path,
) -> None:
    b, i = one_inspection()
    f = b.finding(i)
    b.measure(
        f,
        deadline=dt.date(2024, 3, 31),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 3, 1), "DONE")],
    )
    b.measure(
        f,
        deadline=dt.date(2024, 3, 31),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 3, 1), "PHASED")],
    )
    store = b.build(tmp_path / "store")
    check(
        store,
        dt.date(2024, 6, 30),
        {
            "findings": 1,
            "findings_done": 0,
            "findings_basically_done": 1,
            "findings_open": 0,
            "measures": 2,
            "measures_done": 1,
            "completion_rate": Decimal("0.00"),
            "completion_rate_lenient": Decimal("100.00"),
            "measure_completion_rate": Decimal("50.00"),
            # PHASED is not DONE: the measure past its deadline is overdue.
            "overdue_measures": 1,
            "overdue_findings": 1,
        },
    )


def test_a_long_term_measure_without_a_date_is_never_overdue(tmp_path: Path) -> None:
    b, i = one_inspection()
    long_term = b.finding(i)
    b.measure(
        long_term,
        deadline=None,
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 2, 1), "LONG_TERM")],
    )
    b.measure(long_term, deadline=None)  # 常态化, still 整改中, no date
    dated = b.finding(i)
    b.measure(dated, deadline=dt.date(2024, 3, 31))
    store = b.build(tmp_path / "store")
    check(
        store,
        dt.date(2030, 12, 31),
        {
            "findings": 2,
            "measures": 3,
            "measures_long_term": 2,  # the LONG_TERM one and the undated 常态化 one
            "overdue_measures": 1,
            "overdue_findings": 1,
            "findings_open": 2,
        },
    )


def test_an_extension_moves_the_overdue_date(tmp_path: Path) -> None:
    b, i = one_inspection()
    extended = b.finding(i)
    b.measure(
        extended,
        deadline=dt.date(2024, 3, 31),
        extensions=[(dt.date(2024, 3, 20), dt.date(2024, 6, 30))],
    )
    plain = b.finding(i)
    b.measure(plain, deadline=dt.date(2024, 3, 31))
    store = b.build(tmp_path / "store")
    check(store, dt.date(2024, 3, 31), {"overdue_measures": 0, "overdue_findings": 0})
    check(store, dt.date(2024, 4, 1), {"overdue_measures": 1, "overdue_findings": 1})
    check(store, dt.date(2024, 6, 30), {"overdue_measures": 1, "overdue_findings": 1})
    check(store, dt.date(2024, 7, 1), {"overdue_measures": 2, "overdue_findings": 2})


def test_an_extended_measure_done_late_is_on_time_only_against_the_current_deadline(
    tmp_path: Path,
) -> None:
    b, i = one_inspection()
    f = b.finding(i)
    b.measure(
        f,
        deadline=dt.date(2024, 3, 31),
        extensions=[(dt.date(2024, 3, 20), dt.date(2024, 6, 30))],
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 5, 15), "DONE")],
    )
    b.measure(
        f,
        deadline=dt.date(2024, 3, 31),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 3, 10), "DONE")],
    )
    store = b.build(tmp_path / "store")
    check(
        store,
        dt.date(2024, 6, 30),
        {
            "measures_done": 2,
            "completed_with_deadline": 2,
            "on_time_original": 1,
            "on_time_current": 2,
            "on_time_rate": Decimal("50.00"),
            "findings_done": 1,
            "cycle_days_median": float((dt.date(2024, 5, 15) - FEEDBACK).days),
        },
    )


def test_the_on_time_outcome_is_fixed_at_completion_even_if_an_extension_is_recorded_later(
    tmp_path: Path,
) -> None:
    # Done late on 4-10; an extension to 6-30 takes effect only on 5-01, after completion.
    b, i = one_inspection()
    f = b.finding(i)
    b.measure(
        f,
        deadline=dt.date(2024, 3, 31),
        extensions=[(dt.date(2024, 5, 1), dt.date(2024, 6, 30))],
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 4, 10), "DONE")],
    )
    store = b.build(tmp_path / "store")
    for as_of in (dt.date(2024, 4, 30), dt.date(2024, 6, 30)):
        check(
            store,
            as_of,
            {"completed_with_deadline": 1, "on_time_original": 0, "on_time_current": 0},
        )


def test_a_status_asked_as_of_a_past_date_ignores_later_records(tmp_path: Path) -> None:
    b, i = one_inspection()
    f = b.finding(i)
    b.measure(
        f,
        deadline=dt.date(2024, 6, 30),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 5, 1), "DONE")],
    )
    store = b.build(tmp_path / "store")
    check(
        store,
        dt.date(2024, 4, 30),
        {"findings_done": 0, "findings_open": 1, "measures_done": 0, "completed_with_deadline": 0},
    )
    check(
        store,
        dt.date(2024, 5, 1),
        {"findings_done": 1, "findings_open": 0, "measures_done": 1, "completed_with_deadline": 1},
    )


def _two_findings(later_record: bool) -> StoreBuilder:
    b, i = one_inspection()
    f1 = b.finding(i)
    later = [(dt.date(2024, 9, 1), "DONE")] if later_record else []
    b.measure(
        f1,
        deadline=dt.date(2024, 3, 31),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 2, 1), "PHASED"), *later],
    )
    b.measure(
        f1,
        deadline=dt.date(2024, 2, 29),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 2, 20), "DONE")],
    )
    f2 = b.finding(i, "C03")
    b.measure(f2, deadline=dt.date(2024, 12, 31))
    return b


def test_a_figure_asked_as_of_a_past_date_is_unchanged_after_a_later_record_is_added(
    tmp_path: Path,
) -> None:
    before = _two_findings(later_record=False).build(tmp_path / "before")
    after = _two_findings(later_record=True).build(tmp_path / "after")
    past = dt.date(2024, 6, 30)
    assert figures_of(after, past)[0] == figures_of(before, past)[0]
    check(
        after,
        past,
        {
            "findings_done": 0,
            "findings_basically_done": 1,
            "measures_done": 1,
            "overdue_measures": 1,
        },
    )
    # The later record does count from its own date on: the comparison above can fail.
    check(after, dt.date(2024, 9, 1), {"findings_done": 1, "measures_done": 2})
    check(before, dt.date(2024, 9, 1), {"findings_done": 0, "measures_done": 1})


def test_a_finding_whose_measures_are_done_on_different_dates_is_done_only_at_the_later(
    tmp_path: Path,
) -> None:
    b, i = one_inspection()
    f = b.finding(i)
    b.measure(
        f,
        deadline=dt.date(2024, 6, 30),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 3, 1), "DONE")],
    )
    b.measure(
        f,
        deadline=dt.date(2024, 6, 30),
        history=[(FEEDBACK, "IN_PROGRESS"), (dt.date(2024, 5, 1), "DONE")],
    )
    store = b.build(tmp_path / "store")
    check(
        store,
        dt.date(2024, 4, 30),
        {"findings_done": 0, "findings_open": 1, "measures_done": 1, "cycle_days_median": None},
    )
    check(
        store,
        dt.date(2024, 5, 1),
        {
            "findings_done": 1,
            "findings_open": 0,
            "measures_done": 2,
            "cycle_days_median": float((dt.date(2024, 5, 1) - FEEDBACK).days),
        },
    )


def test_a_repeat_whose_earlier_finding_was_not_yet_done_is_a_repeat_but_not_a_rebound(
    tmp_path: Path,
) -> None:
    b = StoreBuilder()
    # Round ids run against seq on purpose: "earlier" is decided by seq.
    later_round = b.round("第二轮", seq=2)
    earlier_round = b.round("第一轮", seq=1)
    slow, quick = b.unit("市住建局"), b.unit("市卫健委")
    for unit, earlier_done_on in ((slow, dt.date(2024, 8, 1)), (quick, dt.date(2024, 3, 1))):
        first = b.inspection(earlier_round, unit, feedback=FEEDBACK)
        earlier = b.finding(first, "B05")
        b.measure(
            earlier,
            deadline=dt.date(2024, 12, 31),
            history=[(FEEDBACK, "IN_PROGRESS"), (earlier_done_on, "DONE")],
        )
        second = b.inspection(later_round, unit, feedback=dt.date(2024, 6, 1))
        b.measure(b.finding(second, "B05"), deadline=dt.date(2024, 12, 31))
        b.measure(b.finding(second, "C03"), deadline=dt.date(2024, 12, 31))  # not a repeat
    store = b.build(tmp_path / "store")
    as_of = dt.date(2024, 12, 31)
    check(
        store,
        as_of,
        {"findings": 3, "repeat_findings": 1, "rebound_findings": 0},
        group="市住建局",
        by="unit",
    )
    check(
        store,
        as_of,
        {"findings": 3, "repeat_findings": 1, "rebound_findings": 1},
        group="市卫健委",
        by="unit",
    )
    check(
        store,
        as_of,
        {"findings": 2, "repeat_findings": 0, "rebound_findings": 0},
        group="第一轮",
        by="round",
    )


def test_of_two_status_records_on_the_same_day_the_later_recorded_one_wins(
    tmp_path: Path,
) -> None:
    day = dt.date(2024, 4, 1)
    b, i = one_inspection()
    b.measure(
        b.finding(i),
        deadline=dt.date(2024, 6, 30),
        history=[(FEEDBACK, "IN_PROGRESS"), (day, "DONE"), (day, "IN_PROGRESS")],
    )
    b.measure(
        b.finding(i),
        deadline=dt.date(2024, 6, 30),
        history=[(FEEDBACK, "IN_PROGRESS"), (day, "IN_PROGRESS"), (day, "DONE")],
    )
    store = b.build(tmp_path / "store")
    check(
        store,
        day,
        {
            "findings": 2,
            "findings_done": 1,
            "measures_done": 1,
            "completion_rate": Decimal("50.00"),
        },
    )


def test_a_finding_with_no_measure_recorded_yet_is_open(tmp_path: Path) -> None:
    b, i = one_inspection()
    b.measure(b.finding(i), deadline=dt.date(2024, 1, 15), history=[(dt.date(2024, 2, 1), "DONE")])
    store = b.build(tmp_path / "store")
    check(
        store,
        dt.date(2024, 1, 20),
        {
            "findings": 1,
            "findings_open": 1,
            "measures": 0,
            "overdue_measures": 0,
            "completion_rate": Decimal("0.00"),
        },
    )


def test_a_finding_is_not_in_scope_before_its_feedback_date_even_if_fixed_on_the_spot(
    tmp_path: Path,
) -> None:
    # 立行立改: fixed and recorded DONE during 进驻, before the 反馈日期 of 2024-01-10.
    b, i = one_inspection()
    b.measure(
        b.finding(i),
        deadline=dt.date(2023, 12, 25),
        kind="IMMEDIATE",
        history=[(dt.date(2023, 12, 20), "DONE")],
    )
    store = b.build(tmp_path / "store")
    check(
        store,
        dt.date(2023, 12, 31),
        {"findings": 0, "findings_done": 0, "measures": 0, "measures_done": 0},
    )
    check(
        store,
        FEEDBACK,
        {"findings": 1, "findings_done": 1, "measures_done": 1, "on_time_original": 1},
    )


def test_a_deadline_changed_to_long_term_on_the_same_day_follows_the_later_record(
    tmp_path: Path,
) -> None:
    # The unit first wrote "2024年3月底前", then corrected it the same day to 长期坚持.
    b, i = one_inspection()
    b.measure(b.finding(i), deadline=dt.date(2024, 3, 31), extensions=[(FEEDBACK, None)])
    store = b.build(tmp_path / "store")
    check(
        store, dt.date(2024, 6, 30), {"measures": 1, "overdue_measures": 0, "overdue_findings": 0}
    )
