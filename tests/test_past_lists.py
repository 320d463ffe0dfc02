"""The lists and distributions read the findings as of any date from finding_cells (the
current-state summary of each inspection settled by then) plus the timeline of the inspections
still active (xuncha/store/sql/lists.sql), and 屡查屡犯's chains from chain_findings. These
tests prove each query reading them gives exactly the rows of the plain timeline computation
(the same SQL over the reference macros finding_cells_timeline, finding_tag_cells_timeline,
chain_findings_timeline), for every filter state and many dates: before any feedback, inside
the rectification periods, the days inspections settle, the store-wide settled_on and after."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.builders import StoreBuilder
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, open_reader
from xuncha.store.reader import load_queries, run_query

# Each source of lists.sql and the plain timeline computation it stands for.
REFERENCES = {
    "finding_cells_at($as_of, $current, ": "finding_cells_timeline($as_of, ",
    "finding_tag_cells_at($as_of, $current, ": "finding_tag_cells_timeline($as_of, ",
    "FROM chain_findings t": "FROM chain_findings_timeline($as_of) t",
}
SOURCES = ("finding_cells_at(", "finding_tag_cells_at(", "chain_findings ")
SCOPE_PARAMS = {"inspection_ids", "category_l1", "category_l2", "as_of", "current"}
VARIANTS: dict[str, list[Any]] = {
    "level": [1, 2],
    "unit_id": [None],
    "category": [None, "B", "B03"],
    "by_round": [False, True],
    "with_names": [True, False],
    "limit": [None, 7],
    "k_min": [3, 1],
    "k_share": [0.3, 0.0],
    "round_from": [None, 3],
    "round_to": [None, 8],
}


def lists_queries() -> list[str]:
    """The named queries reading lists.sql's tables (found, not listed)."""
    return sorted(
        name for name, q in load_queries().items() if any(source in q.sql for source in SOURCES)
    )


def reference_sql(sql: str) -> str:
    for source, plain in REFERENCES.items():
        sql = sql.replace(source, plain)
    assert not any(source in sql for source in SOURCES)
    return sql


def cases(name: str) -> list[dict[str, Any]]:
    extra = sorted(set(load_queries()[name].params) - SCOPE_PARAMS)
    missing = [p for p in extra if p not in VARIANTS]
    assert not missing, f"{name}: give VARIANTS values for {missing}"
    n = max((len(VARIANTS[p]) for p in extra), default=1)
    return [{p: VARIANTS[p][i % len(VARIANTS[p])] for p in extra} for i in range(n)]


def assert_equal_to_timeline(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], where: object
) -> int:
    """Every lists query on `con` with the scope `params`: the rows of lists.sql's path equal
    those of the timeline computation. Returns the rows seen (so a test can tell it saw some)."""
    seen = 0
    for name in lists_queries():
        named = load_queries()[name]
        for extra in cases(name):
            bound = {k: v for k, v in {**params, **extra}.items() if k in named.params}
            fast = run_query(con, named.sql, bound)
            plain = reference_sql(named.sql)
            code = re.sub(r"--[^\n]*", "", plain)  # the parameters it still uses
            plain_bound = {k: v for k, v in bound.items() if re.search(rf"\${k}\b", code)}
            slow = run_query(con, plain, plain_bound)
            assert fast.equals(slow), (name, extra, where)
            if bound.get("current"):  # the settled and active path holds then too
                hybrid = run_query(con, named.sql, {**bound, "current": False})
                assert hybrid.equals(slow), (name, extra, where)
            seen += fast.height
    return seen


def test_the_lists_queries_are_found() -> None:
    names = lists_queries()
    for name in (
        "findings_by_category",
        "findings_by_unit_category",
        "findings_by_peer_group",
        "common_problems",
        "repeat_chains",
        "ecology_unit_counts",
    ):
        assert name in names


def _dates(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Before any feedback; inside rounds' rectification periods; days inspections settle
    (and the day before); the store-wide settled_on and after."""
    first, settled = con.sql(
        "SELECT min(started_on), max(settled_on) FROM inspection_settled"
    ).fetchall()[0]
    feedbacks = [
        r[0]
        for r in con.sql(
            "SELECT max(feedback_date) FROM inspections GROUP BY round_id ORDER BY 1"
        ).fetchall()
    ]
    settles = [
        r[0]
        for r in con.sql(
            "SELECT DISTINCT settled_on FROM inspection_settled WHERE settled_on IS NOT NULL "
            "ORDER BY settled_on"
        ).fetchall()
    ]
    picked = {
        first - dt.timedelta(days=1),
        first,
        feedbacks[len(feedbacks) // 2] + dt.timedelta(days=20),
        feedbacks[-2] + dt.timedelta(days=60),
        feedbacks[-1] + dt.timedelta(days=10),
        settles[len(settles) // 3],
        settles[len(settles) // 3] - dt.timedelta(days=1),
        settles[-2],
        settled - dt.timedelta(days=1),
        settled,
        settled + dt.timedelta(days=45),
    }
    return sorted(picked)


FILTERS = [
    Filters(),
    Filters(round_from=8, round_to=8),
    Filters(category_l1=("B",)),
    Filters(category_l2=("B03", "C01")),
    Filters(peer_groups=("乡镇街道",)),
    "unit",  # the unit with most findings
]


def _id(f: Filters | str) -> str:
    return f if isinstance(f, str) else str(f.to_url()) or "all"


def resolve_filters(con: duckdb.DuckDBPyConnection, filters: Filters | str) -> Filters:
    """A FILTERS entry as Filters: "unit" is the unit with most findings."""
    if filters == "unit":
        unit = con.sql(
            "SELECT unit_id FROM findings GROUP BY unit_id ORDER BY count(*) DESC, unit_id LIMIT 1"
        ).fetchall()[0][0]
        return Filters(unit_ids=(unit,))
    assert isinstance(filters, Filters)
    return filters


@pytest.mark.parametrize("filters", FILTERS, ids=_id)
def test_every_lists_query_equals_the_timeline_on_many_dates(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection], filters: Filters | str
) -> None:
    reader, con = demo_con
    filters = resolve_filters(con, filters)
    dates = _dates(con)
    assert len(dates) >= 8
    seen = 0
    for as_of in dates:
        scope = resolve_scope(reader, filters.with_(as_of=as_of))
        params = {k: v for k, v in scope.params().items() if k in SCOPE_PARAMS}
        seen += assert_equal_to_timeline(con, params, (filters, as_of))
    assert seen > 0


def test_the_reader_runs_the_same_sql(demo_reader: Reader) -> None:
    """The reader's answer is the query's own (no other path on the way)."""
    scope = resolve_scope(demo_reader, Filters())
    cells = demo_reader.query("findings_by_unit_category", scope.params(level=1))
    assert cells.height > 0 and int(cells["findings"].sum()) > 0


def _edge_store(root: Path) -> Any:
    """Two rounds of two units: a finding closed before the next round's feedback (反弹 when
    found again), one closed later, one recorded with no measure, an inspection with no
    finding, a deadline moved, and an inspection still changing long after the others."""
    b = StoreBuilder()
    r1, r2 = b.round("第一轮", 1), b.round("第二轮", 2)
    u1, u2 = b.unit("甲局"), b.unit("乙镇", peer_group="乡镇街道", sector="乡镇")
    d = dt.date(2024, 3, 1)
    i11 = b.inspection(r1, u1, d)
    i12 = b.inspection(r1, u2, d + dt.timedelta(days=5))
    i21 = b.inspection(r2, u1, d + dt.timedelta(days=120))
    b.inspection(r2, u2, d + dt.timedelta(days=125))  # no finding
    f1 = b.finding(i11, "B03", tags=["四风"])
    b.measure(
        f1,
        deadline=d + dt.timedelta(days=60),
        history=[(d, "IN_PROGRESS"), (d + dt.timedelta(days=50), "DONE")],
    )
    f2 = b.finding(i11, "C01")
    b.measure(
        f2,
        deadline=d + dt.timedelta(days=90),
        history=[(d, "IN_PROGRESS"), (d + dt.timedelta(days=200), "DONE")],
        extensions=[(d + dt.timedelta(days=80), d + dt.timedelta(days=210))],
    )
    f3 = b.finding(i12, "B03")
    b.measure(f3, deadline=None, history=[(d + dt.timedelta(days=5), "LONG_TERM")])
    b.finding(i12, "A01")  # no measure: OPEN from its feedback on
    f5 = b.finding(i21, "B03")  # found again after f1 was DONE: 反弹
    b.measure(
        f5,
        deadline=d + dt.timedelta(days=200),
        history=[
            (d + dt.timedelta(days=120), "IN_PROGRESS"),
            (d + dt.timedelta(days=400), "PHASED"),
        ],
    )
    f6 = b.finding(i21, "C01")
    b.measure(
        f6, deadline=d + dt.timedelta(days=150), history=[(d + dt.timedelta(days=120), "DONE")]
    )
    b.clue(i21, form="第三种形态")
    return b.build(root)


def test_edge_cases_equal_the_timeline_every_few_days(tmp_path: Path) -> None:
    store = _edge_store(tmp_path / "store")
    reader = open_reader(store)
    con = store.connect()
    try:
        rebound = con.sql("SELECT count(*) FROM finding_timeline WHERE is_rebound").fetchall()
        assert rebound[0][0] > 0
        start = dt.date(2024, 2, 20)
        settles = [r[0] for r in con.sql("SELECT settled_on FROM inspection_settled").fetchall()]
        days = {start + dt.timedelta(days=n) for n in range(0, 460, 30)}
        days |= {s + dt.timedelta(days=k) for s in settles if s is not None for k in (-1, 0)}
        assert len(days) > 20
        seen = 0
        for as_of in sorted(days):
            for filters in (Filters(), Filters(category_l2=("B03",))):
                scope = resolve_scope(reader, filters.with_(as_of=as_of))
                params = {k: v for k, v in scope.params().items() if k in SCOPE_PARAMS}
                seen += assert_equal_to_timeline(con, params, (filters, as_of))
        assert seen > 0
    finally:
        con.close()
        reader.close()
