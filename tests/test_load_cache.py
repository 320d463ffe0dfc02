"""The shared query-result cache (xuncha.store.reader.ResultCache) and the load test's summary.

The cache is shared by every session of a dashboard process, so what it must never do is
serve a result to someone it was not computed for: another data version, another scope.
It must also compute a result once when twenty sessions ask for it at the same moment.
The load test is run for a few seconds on a copy of the demo store, without the import."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from xuncha.auth import Access
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.store.reader import Reader, ResultCache, result_key

QUERY = "findings_by_unit_category"


def _cached(cache: ResultCache, rd: Reader, name: str, params: dict) -> pl.DataFrame:
    return cache.get(result_key(rd, name, params), lambda: rd.query(name, params))


def test_a_cached_result_equals_a_fresh_query(demo_reader: Reader) -> None:
    cache = ResultCache()
    params = resolve_scope(demo_reader, Filters()).params(level=1)
    first = _cached(cache, demo_reader, QUERY, params)
    again = _cached(cache, demo_reader, QUERY, params)
    assert again is first  # served from the cache, not run again
    assert (cache.hits, cache.misses) == (1, 1)
    assert first.height > 0
    assert_frame_equal(first, demo_reader.query(QUERY, params))


def test_a_new_data_version_is_never_served_an_older_result(
    demo_store: Store, tmp_path: Path
) -> None:
    copy = Store(shutil.copytree(demo_store.root, tmp_path / "store"))
    cache = ResultCache()
    old = open_reader(copy)
    try:
        before = _cached(cache, old, "units_list", {})
        first = int(before["unit_id"][0])
        copy.write(
            lambda con: con.execute(
                "UPDATE units SET short_name = short_name || '（新）' WHERE unit_id = ?", [first]
            )
        )
        new = open_reader(copy)
        try:
            assert new.identity != old.identity
            after = _cached(cache, new, "units_list", {})
            assert cache.misses == 2
            assert_frame_equal(after, new.query("units_list"))
            renamed = after.filter(pl.col("unit_id") == first)["short_name"][0]
            assert renamed.endswith("（新）")
            cache.drop_other_versions(str(copy.root), new.identity)
            assert len(cache) == 1
            assert cache.bytes == after.estimated_size()
        finally:
            new.close()
    finally:
        old.close()


def test_two_scopes_never_share_a_result(demo_reader: Reader) -> None:
    units = demo_reader.query("units_list")["short_name"].to_list()
    everyone = resolve_scope(demo_reader, Filters())
    liaison = resolve_scope(
        demo_reader, Filters(), access=Access.for_role("l", "liaison", units=[units[0]])
    )
    assert liaison.ids_param() != everyone.ids_param()
    cache = ResultCache()
    wide = _cached(cache, demo_reader, QUERY, everyone.params(level=1))
    narrow = _cached(cache, demo_reader, QUERY, liaison.params(level=1))
    assert cache.misses == 2
    assert_frame_equal(narrow, demo_reader.query(QUERY, liaison.params(level=1)))
    assert narrow["findings"].sum() < wide["findings"].sum()


def test_only_the_bound_parameters_make_the_key(demo_reader: Reader) -> None:
    # rounds_list binds nothing: extra parameters (a date, a scope) must not split it.
    a = result_key(demo_reader, "rounds_list", {"as_of": "2024-01-01"})
    b = result_key(demo_reader, "rounds_list", {"as_of": "2025-01-01"})
    assert a == b
    params = resolve_scope(demo_reader, Filters()).params(level=1)
    assert result_key(demo_reader, QUERY, params) != result_key(
        demo_reader, QUERY, {**params, "level": 2}
    )


def test_concurrent_callers_compute_once() -> None:
    cache = ResultCache()
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def compute() -> pl.DataFrame:
        calls.append(1)
        started.set()
        release.wait(30)
        return pl.DataFrame({"x": [1, 2, 3]})

    results: list[pl.DataFrame] = []
    first = threading.Thread(target=lambda: results.append(cache.get("k", compute)))
    first.start()
    assert started.wait(30)
    waiting = [
        threading.Thread(target=lambda: results.append(cache.get("k", compute))) for _ in range(8)
    ]
    for thread in waiting:
        thread.start()
    release.set()
    for thread in [first, *waiting]:
        thread.join(30)
    assert len(calls) == 1
    assert len(results) == 9
    assert all(r is results[0] for r in results)


def test_a_failed_computation_is_raised_to_every_waiter_and_not_kept() -> None:
    cache = ResultCache()
    release = threading.Event()
    started = threading.Event()

    def fail() -> pl.DataFrame:
        started.set()
        release.wait(30)
        raise ValueError("boom")

    errors: list[BaseException] = []

    def ask() -> None:
        try:
            cache.get("k", fail)
        except ValueError as exc:
            errors.append(exc)

    first = threading.Thread(target=ask)
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=ask)
    second.start()
    release.set()
    first.join(30)
    second.join(30)
    assert len(errors) == 2
    assert len(cache) == 0
    assert cache.get("k", lambda: pl.DataFrame({"x": [1]})).height == 1


def test_the_cache_is_bounded_by_bytes() -> None:
    frame = pl.DataFrame({"x": list(range(1000))})
    size = frame.estimated_size()
    cache = ResultCache(max_bytes=size * 5)
    for i in range(20):
        cache.get(i, lambda: pl.DataFrame({"x": list(range(1000))}))
    assert cache.bytes <= size * 5
    assert len(cache) == 5
    misses = cache.misses
    cache.get(19, lambda: frame)  # the most recent is kept
    assert cache.misses == misses
    cache.get(0, lambda: frame)  # the oldest went out
    assert cache.misses == misses + 1
    # A frame larger than a quarter of the cache is returned but never kept.
    big = pl.DataFrame({"x": list(range(3000))})
    assert cache.get("big", lambda: big) is big
    assert cache.get("big", lambda: frame) is frame


def test_the_load_test_summary_has_every_field(demo_store: Store, tmp_path: Path) -> None:
    from xuncha.bench import load, pages

    db = Path(shutil.copytree(demo_store.root, tmp_path / "store"))
    rd = open_reader(db)
    try:
        states = pages.filter_states(rd)
    finally:
        rd.close()
    result = load.load_test(db, states, sessions=2, seconds=3.0, log_path=tmp_path / "log")
    summary = result.summary()
    for key in ("p50_ms", "p95_ms", "errors", "rss_mb", "workers", "runs_per_s", "by_kind"):
        assert key in summary
    assert summary["errors"] == 0, summary["error_examples"]
    assert summary["workers"] == 1
    assert summary["page_runs"] >= 2
    assert summary["rss_mb"] > 0
    assert summary["by_kind"]["open"]["runs"] >= 1


def test_workers_run_one_load_test_per_count_behind_the_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xuncha.bench import harness, server

    said: list[str] = []
    assert harness._load_servings(None, said.append) == [(1, server.serve)]
    monkeypatch.delattr(server, "serve_gated", raising=False)
    assert harness._load_servings([1, 2], said.append) == []
    assert said and "serve_gated" in said[0]

    def gated(db: Path, *, workers: int, log_path: Path | None = None, env: dict | None = None):
        return (db, workers)

    monkeypatch.setattr(server, "serve_gated", gated, raising=False)
    servings = harness._load_servings([1, 2], said.append)
    assert [n for n, _ in servings] == [1, 2]
    assert [serving(Path("x"))[1] for _, serving in servings] == [1, 2]


def test_ecology_percentiles_equal_counting_every_pair() -> None:
    """The percentiles counted by binary search (no pairs built: a 1M store's population
    paired with itself took gigabytes) equal counting every other reference unit."""
    import importlib
    import random

    # The package re-exports names over its modules: the module itself, by import path.
    module = importlib.import_module("xuncha.figures.ecology")
    rng = random.Random(7)
    rows = []
    for unit in range(120):
        for indicator in ("a", "b"):
            value = None if rng.random() < 0.1 else rng.choice([0.0, 0.5, 1 / 3, rng.random()])
            rows.append(
                {
                    "unit_id": unit,
                    "peer_group": rng.choice(["x", "y", None]),
                    "indicator": indicator,
                    "raw_value": value,
                    "_good": value,
                    "reference": rng.random() < 0.7,
                }
            )
    frame = pl.DataFrame(rows)
    refs = frame.filter(pl.col("reference") & pl.col("raw_value").is_not_null())
    got = dict(
        ((u, i), p)
        for u, i, p in module._percentile(frame, refs, "peer_group")
        .select("unit_id", "indicator", "pct_peer_group")
        .rows()
    )
    eps = 1e-9
    for row in frame.filter(pl.col("raw_value").is_not_null()).iter_rows(named=True):
        others = [
            r["_good"]
            for r in refs.iter_rows(named=True)
            if row["peer_group"] is not None
            and r["peer_group"] == row["peer_group"]
            and r["indicator"] == row["indicator"]
            and r["unit_id"] != row["unit_id"]
        ]
        below = sum(o < row["_good"] - eps for o in others)
        equal = sum(abs(o - row["_good"]) <= eps for o in others)
        expected = (below + 0.5 * equal + 0.5) / (len(others) + 1) * 100
        assert got[(row["unit_id"], row["indicator"])] == pytest.approx(expected)
