"""问题分布 and 屡查屡犯 read tables built at write time (xuncha/store/sql/lists.sql):
category_entries (the units of each category by the day they entered it: findings_by_category
over the whole store), chain_current (the whole store's 屡查屡犯 chains in its current state:
repeat_chains on or after settled_on with no inspection nor level-1 category chosen), and the
heatmap chooses its units in SQL (findings_heatmap). Each is checked here against a computation
that does not read them, for many filter states and dates: findings_by_category against the
timelines written out (finding_at) and against a copy in which no inspection ever settles;
repeat_chains against its own path over the timelines; findings_heatmap against
findings_by_unit_category with the units picked as the page picked them before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.builders import StoreBuilder
from tests.test_past_lists import (
    FILTERS,
    SCOPE_PARAMS,
    _dates,
    _id,
    reference_sql,
    resolve_filters,
)
from tests.test_past_state import _run, _timelines_only
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, Store, open_reader
from xuncha.store.reader import load_queries

# findings_by_category written out over the timelines: every finding holding on the date, its
# units counted per level-1 and (raw) level-2 category, as the query's per-unit step counts.
CATEGORY_REFERENCE = """
WITH f AS (
    SELECT unit_id, category_l1, category_l2, status
    FROM finding_at($as_of, $inspection_ids, $category_l1, $category_l2)
),
per AS (
    SELECT category_l1, category_l2, count(*) AS findings,
           count(DISTINCT unit_id) AS units,
           count(*) FILTER (WHERE status = 'DONE') AS findings_done
    FROM f GROUP BY ALL
)
SELECT p.category_l1, c1.name AS l1_name, coalesce(p.category_l2, 'Z99') AS category_l2,
       coalesce(c2.name, '其他') AS l2_name, sum(p.findings)::BIGINT AS findings,
       sum(p.units)::BIGINT AS units, sum(p.findings_done)::BIGINT AS findings_done
FROM per p
JOIN category_l1 c1 ON c1.code = p.category_l1
LEFT JOIN category_l2 c2 ON c2.code = p.category_l2
GROUP BY ALL
"""
CATEGORY_KEYS = ["category_l1", "category_l2"]


def _sorted(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return frame.sort(keys)


def _category_reference(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> pl.DataFrame:
    bound = {k: params[k] for k in ("as_of", "inspection_ids", "category_l1", "category_l2")}
    return con.sql(CATEGORY_REFERENCE, params=bound).pl()


def _heatmap_reference(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, Any],
    level: int,
    drill: str | None,
    top_n: int | None,
) -> pl.DataFrame:
    """The heatmap's cells as 问题分布 picked them before: every unit's cells, those of the
    drilled level-1 category, the top_n units by findings (ties by unit)."""
    cells = _run(con, "findings_by_unit_category", {**params, "level": level})
    if drill:
        cells = cells.filter(pl.col("category").str.starts_with(drill))
    top = (
        cells.group_by("unit_id")
        .agg(pl.col("findings").sum())
        .sort(["findings", "unit_id"], descending=[True, False])
    )
    if top_n is not None:
        top = top.head(top_n)
    return cells.filter(pl.col("unit_id").is_in(top["unit_id"].implode()))


HEATMAP_CASES = [(1, None, 30), (2, "B", 5), (2, None, None), (1, "C", 1)]


def _check_date(
    reader: Reader,
    con: duckdb.DuckDBPyConnection,
    never_settled: duckdb.DuckDBPyConnection | None,
    filters: Filters,
    as_of: dt.date,
) -> int:
    """Every check of this file for one filter state and date; returns the rows seen."""
    scope = resolve_scope(reader, filters.with_(as_of=as_of))
    params = {k: v for k, v in scope.params().items() if k in SCOPE_PARAMS}
    where = (filters, as_of)
    seen = 0
    got = _run(con, "findings_by_category", params)
    assert _sorted(got, CATEGORY_KEYS).equals(
        _sorted(_category_reference(con, params), CATEGORY_KEYS)
    ), where
    if never_settled is not None:
        # There only the timelines hold findings: asked as a date before settled_on.
        reference = _run(never_settled, "findings_by_category", {**params, "current": False})
        assert got.equals(reference), where
    seen += got.height
    for level, drill, top_n in HEATMAP_CASES:
        cells = _run(
            con, "findings_heatmap", {**params, "level": level, "category": drill, "limit": top_n}
        )
        assert cells.equals(_heatmap_reference(con, params, level, drill, top_n)), (
            where,
            level,
            drill,
            top_n,
        )
        seen += cells.height
    named = load_queries()["repeat_chains"]
    # Before settled_on the chains never read chain_current (tests/test_past_lists.py checks
    # that path on every date).
    for limit in (None, 3) if params["current"] else ():
        asked = {**params, "limit": limit}
        chains = _run(con, "repeat_chains", asked)
        # The same query with $current false: the summaries of the inspections settled by the
        # date and the timelines, never chain_current; and that path over the timelines alone.
        settled_path = _run(con, "repeat_chains", {**asked, "current": False})
        assert chains.equals(settled_path), (where, limit)
        plain = con.sql(
            reference_sql(named.sql),
            params={k: v for k, v in {**asked, "current": False}.items() if k in named.params},
        ).pl()
        assert chains.equals(plain), (where, limit)
        seen += chains.height
    return seen


@pytest.fixture(scope="module")
def never_settled(
    demo_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A copy of the demo in which no inspection ever settles (tests/test_past_state.py)."""
    folder = tmp_path_factory.mktemp("never_settled")
    reference = _timelines_only(demo_store.current_file(), folder / "timelines.duckdb")
    yield reference
    reference.close()


def _current_dates(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    (settled,) = con.sql("SELECT max(settled_on) FROM inspection_settled").fetchall()[0]
    return [settled, settled + dt.timedelta(days=1), settled + dt.timedelta(days=200)]


@pytest.mark.parametrize("filters", FILTERS, ids=_id)
def test_distribution_and_chains_equal_their_independent_computation_on_many_dates(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection],
    never_settled: duckdb.DuckDBPyConnection,
    filters: Filters | str,
) -> None:
    reader, con = demo_con
    filters = resolve_filters(con, filters)
    dates = sorted(set(_dates(con)) | set(_current_dates(con)))
    assert len(dates) >= 10
    seen = sum(_check_date(reader, con, never_settled, filters, day) for day in dates)
    assert seen > 0


def test_the_whole_store_reads_the_tables_built_at_write_time(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection],
) -> None:
    """Not vacuous: the tables hold the demo's chains and categories, and the chains the query
    returns on a current date are chain_current's first rows."""
    reader, con = demo_con
    (day,) = _current_dates(con)[:1]
    scope = resolve_scope(reader, Filters(as_of=day))
    assert scope.current and scope.params()["inspection_ids"] is None
    chains = _run(con, "repeat_chains", scope.params(limit=5))
    table = con.sql(
        "SELECT unit_id, category_l2, chain FROM chain_current ORDER BY rebound_rounds DESC,"
        " round_count DESC, findings DESC, unit_id, category_l2 LIMIT 5"
    ).pl()
    assert chains.select("unit_id", "category_l2", "chain").equals(table)
    assert int(chains["total"][0]) == con.sql("SELECT count(*) FROM chain_current").fetchall()[0][0]
    units = con.sql("SELECT sum(units) FROM category_entries").fetchall()[0][0]
    by_cat = _run(con, "findings_by_category", scope.params())
    assert int(by_cat["units"].sum()) == units > 0


def _edge_store(root: Path) -> Any:
    """Three rounds of three units: a category found in every round at one unit (反弹 once),
    findings without a level-2 category beside a 其他 (Z99) one at the same unit, a chain whose
    findings have two level-1 categories, units tied
    on findings at the heatmap's cut, an inspection with no finding, and one still changing
    long after the others."""
    b = StoreBuilder()
    r1, r2, r3 = b.round("第一轮", 1), b.round("第二轮", 2), b.round("第三轮", 3)
    u1, u2 = b.unit("甲局"), b.unit("乙镇", peer_group="乡镇街道", sector="乡镇")
    u3 = b.unit("丙办")
    d = dt.date(2024, 3, 1)
    i11, i12 = b.inspection(r1, u1, d), b.inspection(r1, u2, d + dt.timedelta(days=3))
    b.inspection(r1, u3, d + dt.timedelta(days=4))  # no finding
    i21, i22 = (
        b.inspection(r2, u1, d + dt.timedelta(days=150)),
        b.inspection(r2, u2, d + dt.timedelta(days=151)),
    )
    i31 = b.inspection(r3, u1, d + dt.timedelta(days=300))
    i33 = b.inspection(r3, u3, d + dt.timedelta(days=305))
    f = b.finding(i11, "B03")
    b.measure(
        f,
        deadline=d + dt.timedelta(days=60),
        history=[(d, "IN_PROGRESS"), (d + dt.timedelta(days=40), "DONE")],
    )
    f = b.finding(i21, "B03")  # 反弹: the earlier B03 was DONE
    b.measure(
        f,
        deadline=d + dt.timedelta(days=200),
        history=[(d + dt.timedelta(days=150), "IN_PROGRESS")],
    )
    f = b.finding(i31, "B03")
    b.measure(
        f,
        deadline=d + dt.timedelta(days=360),
        history=[(d + dt.timedelta(days=300), "IN_PROGRESS"), (d + dt.timedelta(days=700), "DONE")],
    )
    for inspection in (i12, i22):  # 乙镇: C01 in two rounds, tied with 丙办 below
        f = b.finding(inspection, "C01")
        b.measure(f, deadline=None, history=[(d + dt.timedelta(days=160), "LONG_TERM")])
    b.finding(i33, "A01")
    b.finding(i33, "C01")
    z99 = b.finding(i11, "Z99")
    no_l2 = b.finding(i11, "Z99")
    b.finding(i21, "A01")
    # A01 again in the third round, filed under level-1 B (the store allows it; the ledger
    # never writes it): a chain whose findings span two level-1 categories.
    mixed = b.finding(i31, "A01")
    row = list(b.findings[mixed - 1])
    row[4] = "B"
    b.findings[mixed - 1] = tuple(row)
    # No level-2 category (a ledger's 其他 without a code): as the store allows it.
    row = list(b.findings[no_l2 - 1])
    row[5] = None
    b.findings[no_l2 - 1] = tuple(row)
    assert b.findings[z99 - 1][5] == "Z99"
    return b.build(root)


def test_edge_cases_equal_their_independent_computation_every_few_days(tmp_path: Path) -> None:
    store = _edge_store(tmp_path / "store")
    reader = open_reader(store)
    con = store.connect()
    try:
        assert con.sql("SELECT count(*) FROM chain_current").fetchall()[0][0] >= 2
        assert con.sql("SELECT count(*) FROM findings WHERE category_l2 IS NULL").fetchall()[0][0]
        assert con.sql("SELECT count(*) FROM chain_current WHERE NOT single_l1").fetchall()[0][0]
        settles = [r[0] for r in con.sql("SELECT settled_on FROM inspection_settled").fetchall()]
        start = dt.date(2024, 2, 20)
        days = {start + dt.timedelta(days=n) for n in range(0, 800, 45)}
        days |= {s + dt.timedelta(days=k) for s in settles if s is not None for k in (-1, 0, 1)}
        assert len(days) > 30
        seen = 0
        for as_of in sorted(days):
            for filters in (
                Filters(),
                Filters(category_l2=("B03",)),
                Filters(category_l1=("Z",)),
                Filters(category_l1=("A",)),
                Filters(category_l1=("B",)),
                Filters(peer_groups=("乡镇街道",)),
            ):
                seen += _check_date(reader, con, None, filters, as_of)
        assert seen > 0
    finally:
        con.close()
        reader.close()
