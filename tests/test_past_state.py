"""A date before the store's settled_on reads the current-state summaries of the inspections
settled by then and the timelines of those still changing on it (inspection_settled). Here
every query that does so is checked against the timelines alone, for every filter state,
grouping and many dates: the reference is the same store with every inspection marked as
still changing (started before any date, never settled), where the very same SQL can only
read the timelines, and rectification_counts (the timelines, written out) for the counts."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.builders import StoreBuilder
from tests.test_current_state import FILTERS, GROUPINGS, _dual_path_cases
from xuncha import figures
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, Store, open_reader
from xuncha.store.reader import load_queries, run_query

SUMMARIES = (
    "rect_current",
    "rect_current_inspection",
    "rect_current_dates",
    "rect_current_done",
    "rect_current_measures",
    "finding_cells",  # xuncha/store/sql/lists.sql: rect_current with round, unit, settled_on
    "curve_cells",  # xuncha/store/sql/curve.sql: the progress curve's deltas, settled_on
    "curve_settled",  # the same summed per round, settled_on and day
)
# The queries that read the summaries for the inspections settled by the date: every query
# declaring $current, and rectification_periods (which takes no $current).
PERIODS = "rectification_periods"


def _past_queries() -> list[str]:
    names = sorted(n for n, q in load_queries().items() if "current" in q.params)
    return [*names, PERIODS]


def _timelines_only(source: Path, target: Path) -> duckdb.DuckDBPyConnection:
    """A copy of a version in which no inspection is ever settled: every query reads the
    timelines alone there."""
    shutil.copyfile(source, target)
    con = duckdb.connect(str(target))
    con.execute(
        "UPDATE inspection_settled SET started_on = DATE '0001-01-01', "
        "settled_on = DATE '9999-12-31' WHERE started_on IS NOT NULL"
    )
    for table in SUMMARIES:
        con.execute(f"UPDATE {table} SET settled_on = DATE '9999-12-31'")
    con.close()
    return duckdb.connect(str(target), read_only=True)


def _run(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> pl.DataFrame:
    """A named query on a plain connection, run as Reader.query runs it."""
    named = load_queries()[name]
    return run_query(con, named.sql, {k: params[k] for k in named.params})


def both_branches(
    real: duckdb.DuckDBPyConnection,
    reference: duckdb.DuckDBPyConnection,
    name: str,
    params: dict[str, Any],
) -> pl.DataFrame:
    """The query on the store (the summaries of the settled inspections, the timelines of the
    others) equal to it on the copy that reads the timelines alone; its rows."""
    fast = _run(real, name, params)
    slow = _run(reference, name, {**params, "current": False})
    assert fast.equals(slow), (name, params)
    return fast


@contextlib.contextmanager
def real_and_timelines(
    store: Store, folder: Path
) -> Iterator[tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]]:
    """Read-only connections to a copy of the store's current version and to a copy in which
    no inspection ever settles (_timelines_only)."""
    real_file = folder / "real.duckdb"
    shutil.copyfile(store.current_file(), real_file)
    real = duckdb.connect(str(real_file), read_only=True)
    reference = _timelines_only(store.current_file(), folder / "timelines.duckdb")
    try:
        yield real, reference
    finally:
        real.close()
        reference.close()


@pytest.fixture(scope="module")
def cons(
    demo_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]]:
    with real_and_timelines(demo_store, tmp_path_factory.mktemp("past")) as pair:
        yield pair


def _dates(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Before any feedback; inside each round's 整改期; the days around which a few
    inspections settle (the day before, the day, the day after); the store's settled_on
    and after."""
    first = con.execute("SELECT min(started_on) FROM inspection_settled").fetchone()
    store = con.execute("SELECT max(settled_on) FROM inspection_settled").fetchone()
    assert first and store
    days = {first[0] - dt.timedelta(days=1), first[0], store[0] - dt.timedelta(days=1)}
    days |= {store[0], store[0] + dt.timedelta(days=40)}
    for (feedback,) in con.execute(
        "SELECT min(feedback_date) FROM inspections GROUP BY round_id ORDER BY 1"
    ).fetchall():
        days.add(feedback + dt.timedelta(days=45))
    settles = con.execute(
        "SELECT settled_on FROM inspection_settled WHERE settled_on IS NOT NULL ORDER BY settled_on"
    ).fetchall()
    for (day,) in settles[:: max(1, len(settles) // 3)]:
        days |= {day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)}
    return sorted(days)


def _filters(reader: Reader) -> list[Filters]:
    unit = reader.query("units_list")
    return [*FILTERS, Filters(unit_ids=(int(unit["unit_id"][0]),))]


def _cases(name: str, one_unit: int) -> list[dict[str, Any]]:
    if name == PERIODS:
        return [{"min_months": 3, "max_months": 6}, {"min_months": 1, "max_months": 2}]
    return _dual_path_cases(name, one_unit)


_SCOPES: dict[tuple[str, str, Filters, dt.date], Scope] = {}


def _scope(reader: Reader, filters: Filters, day: dt.date) -> Scope:
    """resolve_scope for the filters on the date, resolved once per store version for the
    module's tests (the sweeps ask the same few dozen scopes once per query)."""
    key = (str(reader.store.root), reader.identity, filters, day)
    if key not in _SCOPES:
        _SCOPES[key] = resolve_scope(reader, filters.with_(as_of=day))
    return _SCOPES[key]


def test_the_dates_cover_active_settled_and_not_yet_fed_back_inspections(
    cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection],
) -> None:
    real, _ = cons
    seen = set()
    for day in _dates(real):
        row = real.execute(
            "SELECT count(*) FILTER (WHERE started_on <= $d AND settled_on > $d),"
            " count(*) FILTER (WHERE settled_on <= $d), count(*) FILTER (WHERE started_on > $d)"
            " FROM inspection_settled",
            {"d": day},
        ).fetchone()
        assert row
        seen |= {i for i, n in enumerate(row) if n}
    assert seen == {0, 1, 2}


@pytest.mark.parametrize("which", range(len(FILTERS) + 1))
def test_rectification_counts_equal_the_timelines_on_every_date(
    which: int,
    demo_reader: Reader,
    cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection],
) -> None:
    real, _ = cons
    for filters in _filters(demo_reader)[which : which + 1]:
        for j, day in enumerate(_dates(real)):
            scope = _scope(demo_reader, filters, day)
            for k, by in enumerate(GROUPINGS):
                # Each grouping with and without the median, on alternate dates.
                params = scope.params(by=by, cycle_median=(j + k) % 2 == 0)
                slow = _run(real, "rectification_counts", params)
                fast = _run(real, "rectification_counts_current", params)
                assert fast.equals(slow), (filters, day, by)


# rectification_counts_current is compared above with rectification_counts, the timelines
# written out, for every grouping, both median settings, filter state and date: the same
# sweep against the timelines-only copy would only repeat it.
@pytest.mark.parametrize(
    "name", [n for n in _past_queries() if n != "rectification_counts_current"]
)
def test_every_past_date_query_equals_the_timelines_alone(
    name: str,
    demo_reader: Reader,
    cons: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection],
) -> None:
    real, reference = cons
    units = demo_reader.query("units_list")
    one_unit = int(units["unit_id"][0])
    rows = 0
    for filters in _filters(demo_reader):
        for j, day in enumerate(_dates(real)):
            scope = _scope(demo_reader, filters, day)
            cases = _cases(name, one_unit)
            # Each parameter case on every other date in turn (every case and every date is
            # tried; not every pair, which would take minutes).
            for extra in [cases[0], *([cases[j % len(cases)]] if j % len(cases) else [])]:
                params = scope.params(**extra)
                if name == PERIODS:
                    params["inspection_ids"] = scope.ids_param()
                rows += both_branches(real, reference, name, params).height
    assert rows > 0, name


def test_the_figures_read_the_summaries_with_the_timelines_before_settled_on(
    demo_reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real = Reader.query

    def spy(self: Reader, name: str, params: Any = None) -> pl.DataFrame:
        asked.append(name)
        return real(self, name, params)

    monkeypatch.setattr(Reader, "query", spy)
    day = resolve_scope(demo_reader, Filters()).settled_on
    assert day is not None
    past = _scope(demo_reader, Filters(), day - dt.timedelta(days=200))
    assert not past.current
    asked.clear()
    figures.rectification(demo_reader, past, "round")
    assert "rectification_counts_current" in asked and "rectification_counts" not in asked


# The days something changes in _edge_store.
EDGE_EVENTS = [
    dt.date(2024, 3, 1),
    dt.date(2024, 3, 5),
    dt.date(2024, 4, 10),
    dt.date(2024, 5, 1),
    dt.date(2024, 5, 15),
    dt.date(2024, 6, 1),
    dt.date(2024, 7, 1),
    dt.date(2024, 8, 1),
    dt.date(2024, 9, 1),
    dt.date(2024, 10, 20),
]


def _edge_store(root: Path) -> Store:
    """A measure reopened after it was done (DONE → IN_PROGRESS), a deadline extended late,
    a finding recorded after the 反馈日期, an inspection without measures and one without
    findings."""
    b = StoreBuilder()
    r1 = b.round("第一轮", 1)
    u1, u2, u3 = b.unit("甲局"), b.unit("乙镇", peer_group="乡镇街道"), b.unit("丙委")
    i1 = b.inspection(r1, u1, dt.date(2024, 3, 1))
    i2 = b.inspection(r1, u2, dt.date(2024, 3, 5))
    b.inspection(r1, u3, dt.date(2024, 3, 9))  # no findings
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
    )
    b.measure(
        f,
        deadline=dt.date(2024, 5, 1),
        extensions=[(dt.date(2024, 10, 20), dt.date(2025, 1, 1))],
    )
    late = b.finding(i1, "C01")  # recorded later (below)
    b.measure(late, deadline=dt.date(2024, 8, 1), history=[(dt.date(2024, 3, 1), "PHASED")])
    b.finding(i2, "A01")  # no measures
    f = b.finding(i2, "B03")
    b.measure(f, deadline=None)
    store = b.build(root)
    store.write(
        lambda con: con.execute(
            "UPDATE findings SET recorded_on = DATE '2024-05-15' WHERE finding_id = ?", [late]
        )
    )
    return store


def test_edge_cases_of_a_hand_built_store_on_every_day(tmp_path: Path) -> None:
    store = _edge_store(tmp_path / "store")
    reader = open_reader(store)
    try:
        with real_and_timelines(store, tmp_path) as (real, reference):
            _edge_cases_on_every_day(reader, real, reference)
    finally:
        reader.close()


def _edge_cases_on_every_day(
    reader: Reader, real: duckdb.DuckDBPyConnection, reference: duckdb.DuckDBPyConnection
) -> None:
    settled = dict(
        real.execute("SELECT inspection_id, settled_on FROM inspection_settled").fetchall()
    )
    assert settled[1] == dt.date(2024, 10, 20)  # the late extension
    assert settled[3] is None  # no findings
    events = [dt.date(2024, 2, 20), dt.date(2024, 12, 1), *EDGE_EVENTS]
    for event in (settled[1], settled[2]):
        events += [event - dt.timedelta(days=1), event, event + dt.timedelta(days=1)]
    for j, day in enumerate(sorted(set(events))):
        for filters in (Filters(), Filters(category_l1=("B",))):
            scope = _scope(reader, filters, day)
            for by in GROUPINGS:
                params = scope.params(by=by, cycle_median=True)
                slow = _run(real, "rectification_counts", params)
                assert _run(real, "rectification_counts_current", params).equals(slow)
            for name in _past_queries():
                cases = _cases(name, 1)
                for case in [cases[j % len(cases)]]:  # each case on some day
                    params = scope.params(**case)
                    if name == PERIODS:
                        params["inspection_ids"] = scope.ids_param()
                    both_branches(real, reference, name, params)
