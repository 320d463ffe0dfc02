"""Every named query runs on the fixture store and honours its header: params, columns, grain."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from tests.conftest import AS_OF
from xuncha.filters import Filters, resolve_scope
from xuncha.rectify import demo_activity
from xuncha.store.reader import load_queries, used_params

QUERIES = load_queries()


# Values for every parameter any query declares.
def _values(reader: Any) -> dict[str, Any]:
    scope = resolve_scope(reader, Filters(as_of=AS_OF))
    some_findings = reader.query(
        "findings_detail", scope.params(unit_id=None, category=None, limit=5)
    )
    some_submission = reader.query(
        "rectify_queue", {"inspection_ids": None, "states": ["returned"], "measure_id": None}
    )
    return scope.params(
        states=None,
        measure_id=int(some_submission["measure_id"][0]),
        open_only=False,
        by="unit",
        limit=50,
        level=1,
        by_round=True,
        with_names=True,
        cycle_median=True,
        bys=["all", "unit"],
        median_bys=["unit"],
        unit_id=None,
        category=None,
        finding_ids=some_findings["finding_id"].to_list(),
        round_from=None,
        round_to=None,
        kinds=None,
        sectors=None,
        peer_groups=None,
        unit_ids=None,
        k_min=3,
        k_share=0.3,
        min_months=3,
        max_months=12,
        step=30,
        min_similarity=0.3,
        terms=["问题"],
        sha256=demo_activity.demo_evidence().sha256,
        round_ids=None,
        submission_ids=some_submission["submission_id"].to_list(),
        since=None,
    )


# Queries over tables the demo generator leaves empty (the directory of recipients and the
# notices issued): their columns and types are checked here, their rows in
# tests/test_notices.py and tests/test_contacts.py on stores that hold some.
EMPTY_ON_DEMO = frozenset({"contacts_list", "notice_list"})


def test_there_are_named_queries_and_each_file_is_named_for_its_header() -> None:
    assert len(QUERIES) >= 10
    for name, query in QUERIES.items():
        assert query.name == name
        assert query.returns and query.grain


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_a_query_declares_exactly_the_parameters_it_uses(name: str) -> None:
    query = QUERIES[name]
    assert used_params(query.sql) == set(query.params), name


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_a_query_returns_the_columns_and_grain_its_header_states(
    name: str, demo_reader: Any
) -> None:
    query = QUERIES[name]
    frame = demo_reader.query(name, _values(demo_reader))
    assert frame.columns == list(query.columns), f"{name}: header columns differ from result"
    keys = query.grain_keys
    assert keys is not None, f"{name}: grain must be 'one row' or 'one row per <columns>'"
    if keys == []:
        assert frame.height == 1
    elif name not in EMPTY_ON_DEMO:
        assert frame.height > 0, f"{name} returned nothing on the demo store"
        assert set(keys) <= set(frame.columns)
        assert frame.select(keys).is_duplicated().sum() == 0, f"{name}: grain {keys} not unique"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_a_query_returns_the_types_its_header_states(name: str, demo_reader: Any) -> None:
    """Each column's DuckDB type is the one the header names (BIGINT, VARCHAR[], DATE …)."""
    query = QUERIES[name]
    values = _values(demo_reader)
    con = demo_reader.store.connect(demo_reader.version)
    try:
        relation = con.sql(query.sql, params={k: values[k] for k in query.params})
        got = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
    finally:
        con.close()
    stated = {column: text.split()[0] for column, text in query.columns.items()}
    assert got == stated, name


def test_a_query_refuses_to_run_without_its_parameters(demo_reader: Any) -> None:
    with pytest.raises(TypeError, match="needs parameters"):
        demo_reader.query("rectification_counts", {"as_of": dt.date(2026, 1, 1)})


def test_queries_run_on_a_read_only_connection(demo_reader: Any) -> None:
    import duckdb

    with pytest.raises(duckdb.Error):
        demo_reader.scalar("CREATE TABLE sneaky (x INTEGER)")


def test_filters_narrow_the_inspections_in_scope(demo_reader: Any) -> None:
    everything = resolve_scope(demo_reader, Filters(as_of=AS_OF))
    one_round = resolve_scope(demo_reader, Filters(round_from=3, round_to=3, as_of=AS_OF))
    peers = resolve_scope(demo_reader, Filters(peer_groups=("国有企业",), as_of=AS_OF))
    assert 0 < len(one_round.inspection_ids) < len(everything.inspection_ids)
    assert 0 < len(peers.inspection_ids) < len(everything.inspection_ids)
    rounds = pl.DataFrame({"inspection_id": list(one_round.inspection_ids)})
    checked = demo_reader.query(
        "scope_inspections",
        {
            "round_from": 3,
            "round_to": 3,
            "kinds": None,
            "sectors": None,
            "peer_groups": None,
            "unit_ids": None,
        },
    )
    assert sorted(checked["inspection_id"].to_list()) == rounds["inspection_id"].to_list()


def test_at_most_query_slots_named_queries_run_at_once(
    demo_reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions' queries queue for a few slots (each DuckDB query already uses every core;
    more at once only add working memory), and every one still gets its answer."""
    import threading

    from xuncha.store import reader as reader_module

    class Counting:
        def __init__(self, slots: int) -> None:
            self._inner = threading.BoundedSemaphore(slots)
            self._lock = threading.Lock()
            self.now = self.most = self.entered = 0

        def __enter__(self) -> None:
            self._inner.acquire()
            with self._lock:
                self.now += 1
                self.entered += 1
                self.most = max(self.most, self.now)

        def __exit__(self, *exc: object) -> None:
            with self._lock:
                self.now -= 1
            self._inner.release()

    slots = Counting(2)
    monkeypatch.setattr(reader_module, "QUERY_SLOTS", slots)
    expected = demo_reader.query("rounds_list")
    results: list[pl.DataFrame] = []
    threads = [
        threading.Thread(target=lambda: results.append(demo_reader.query("rounds_list")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slots.entered == 9  # every query went through a slot
    assert 1 <= slots.most <= 2
    assert len(results) == 8 and all(r.equals(expected) for r in results)
