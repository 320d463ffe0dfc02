"""Pages through Streamlit's AppTest: the exact named queries each page runs (recorded with
`xuncha.store.reader.recording`), replayed on a fresh reader without Streamlit's cache, and
the page's full render time cold (every cache cleared: a new filter state) and warm (a rerun
with unchanged filters).

streamlit is imported inside the functions (the command line must not load it to start).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from xuncha import demo
from xuncha.bench.timing import median
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.store.reader import Reader, recording

APP = Path(__file__).resolve().parents[2] / "app.py"
AS_OF = demo.DEMO_AS_OF
PAST_AS_OF = dt.date(2024, 6, 30)
CANNED_QUERY = ("rectification_counts", {"by": "round"})


@dataclass(frozen=True)
class PageSpec:
    name: str
    file: str
    title: str
    action: str | None = None  # "draft": 起草简报; "canned": run a canned query


PAGES: list[PageSpec] = [
    PageSpec("overview", "pages/overview.py", "总览"),
    PageSpec("distribution", "pages/distribution.py", "问题分布"),
    PageSpec("progress", "pages/progress.py", "整改进度"),
    PageSpec("repeats", "pages/repeats.py", "屡查屡犯"),
    PageSpec("ecology", "pages/ecology.py", "政治生态研判"),
    PageSpec("briefing", "pages/briefing.py", "领导简报（起草）", "draft"),
    PageSpec("sql", "pages/sql_console.py", "数据查询（常用查询）", "canned"),
]


def filter_states(reader: Reader) -> dict[str, dict[str, str]]:
    """Typical filter states as URL query strings: everything; one round (the last but one,
    rectified); the unit with most findings; one L1 category; a date in the past."""
    asof = AS_OF.isoformat()
    seqs = reader.query("rounds_list")["seq"].to_list()
    seq = seqs[-2] if len(seqs) > 1 else seqs[-1]
    scope = resolve_scope(reader, Filters(as_of=AS_OF))
    by_unit = reader.query("findings_by_unit_category", scope.params(level=1))
    unit = (
        by_unit.group_by("unit_id")
        .agg(pl.col("findings").sum())
        .sort(["findings", "unit_id"], descending=[True, False])["unit_id"][0]
    )
    return {
        "all": {"asof": asof},
        "round": {"rounds": f"{seq}-{seq}", "asof": asof},
        "unit": {"unit": str(unit), "asof": asof},
        "l1": {"l1": "B", "asof": asof},
        "past": {"asof": PAST_AS_OF.isoformat()},
    }


def scope_for(reader: Reader, state: dict[str, str]) -> Scope:
    return resolve_scope(reader, Filters.from_url(state))


# -- AppTest ---------------------------------------------------------------------------


class PageFailed(RuntimeError):
    """A page raised, or showed an incident (事件编号) instead of its content."""


def _clear_caches() -> None:
    import streamlit as st

    from xuncha import ui
    from xuncha.sandbox import core as sandbox_core

    st.cache_data.clear()
    st.cache_resource.clear()
    sandbox_core.clear_cache()
    ui.clear_caches()


def _check(at: Any, where: str) -> None:
    if at.exception:
        raise PageFailed(f"{where}: {at.exception[0].value}")
    for alert in at.error:
        if "事件编号" in str(alert.value):
            raise PageFailed(f"{where}: {alert.value}")


def _button(at: Any, label: str) -> Any:
    found = [b for b in at.button if b.label == label]
    if not found:
        raise PageFailed(f"no button {label!r}: {[b.label for b in at.button]}")
    return found[0]


@contextlib.contextmanager
def _store_env(root: Path) -> Iterator[None]:
    before = os.environ.get("XUNCHA_DB")
    os.environ["XUNCHA_DB"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XUNCHA_DB", None)
        else:
            os.environ["XUNCHA_DB"] = before


@contextlib.contextmanager
def _recording_sandbox() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record the SQL the 数据查询 page runs in its sandbox (not a named-query call)."""
    from xuncha.sandbox.core import Sandbox

    calls: list[tuple[str, dict[str, Any]]] = []
    original = Sandbox.run

    def run(self: Any, sql: str, **kwargs: Any) -> Any:
        calls.append((sql, dict(kwargs.get("params") or {})))
        return original(self, sql, **kwargs)

    Sandbox.run = run  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Sandbox.run = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _server_script_cache() -> Iterator[None]:
    """One ScriptCache for every AppTest run, as the server has one for its lifetime.
    AppTest makes a new one per run, so it recompiles app.py and the page (magic and all,
    ~10 ms) on every rerun, which the server never does; without this the render times
    would hold a cost no user meets."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = _SHARED_SCRIPT_CACHE or [ScriptCache()]
    _SHARED_SCRIPT_CACHE[:] = shared
    saved = (app_test.ScriptCache, local_script_runner.ScriptCache)
    app_test.ScriptCache = lambda: shared[0]  # type: ignore[misc,assignment]
    local_script_runner.ScriptCache = lambda: shared[0]  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        app_test.ScriptCache, local_script_runner.ScriptCache = saved  # type: ignore[misc]


_SHARED_SCRIPT_CACHE: list[Any] = []


@dataclass
class Rendered:
    cold_ms: float
    warm_ms: float
    queries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sandbox: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def render(root: Path, page: PageSpec, state: dict[str, str], *, record: bool = False) -> Rendered:
    """Open the app at / with the filter state in the URL, clear every cache, go to the page
    (and do its action) — timed: cold — then rerun unchanged — timed: warm."""
    from streamlit.testing.v1 import AppTest

    with _store_env(root), _server_script_cache():
        at = AppTest.from_file(str(APP), default_timeout=900)
        for key, value in state.items():
            at.query_params[key] = value
        at.run()
        _check(at, "app")
        if page.action is None:
            _clear_caches()
            at.switch_page(page.file)
        else:
            at.switch_page(page.file)
            at.run()
            _check(at, page.name)
            if page.action == "canned":
                at.selectbox(key="canned_name").set_value(CANNED_QUERY[0]).run()
                _check(at, page.name)
                for param, value in CANNED_QUERY[1].items():  # a choice field: a selectbox
                    at.selectbox(key=f"canned_{CANNED_QUERY[0]}_{param}").set_value(value)
            _clear_caches()
            if page.action == "draft":
                _button(at, "起草简报").click()
            else:
                at.button(key="canned_run").click()
        with contextlib.ExitStack() as stack:
            queries = stack.enter_context(recording()) if record else []
            sandbox = stack.enter_context(_recording_sandbox()) if record else []
            started = time.perf_counter()
            at.run()
            cold = (time.perf_counter() - started) * 1000
        _check(at, page.name)
        if page.action == "draft" and not at.session_state["brief_draft"]:
            raise PageFailed("briefing: no draft was made")
        if page.action == "canned" and not at.session_state["canned_last"]:
            raise PageFailed("sql: the canned query did not run")
        started = time.perf_counter()
        at.run()
        warm = (time.perf_counter() - started) * 1000
        _check(at, page.name)
    return Rendered(cold, warm, list(queries), list(sandbox))


def render_times(
    root: Path, page: PageSpec, state: dict[str, str], repeats: int
) -> tuple[float, float]:
    """Median cold and warm render (ms) over `repeats` fresh sessions."""
    cold, warm = [], []
    for _ in range(max(repeats, 1)):
        done = render(root, page, state)
        cold.append(done.cold_ms)
        warm.append(done.warm_ms)
    return median(cold), median(warm)


# -- replay ----------------------------------------------------------------------------


@dataclass
class Replayed:
    query_ms: float  # median of the whole set, run one after another
    per_query: list[dict[str, Any]]  # name, median ms, rows
    sandbox_build_ms: float | None = None


def replay(
    root: Path,
    queries: list[tuple[str, dict[str, Any]]],
    sandbox_calls: list[tuple[str, dict[str, Any]]],
    scope: Scope,
    repeats: int,
) -> Replayed:
    """The recorded queries again, in order, on a fresh reader (no Streamlit cache): one
    warm-up, then the median of `repeats` runs of the whole set; sandbox SQL (the 数据查询
    page) on a sandbox built once for the scope (its build time reported apart)."""
    reader = open_reader(Store(root))
    box = None
    build_ms = None
    try:
        if sandbox_calls:
            from xuncha.sandbox.core import Sandbox

            started = time.perf_counter()
            box = Sandbox.for_scope(Store(root), scope, clue_details=False, cache=False)
            build_ms = (time.perf_counter() - started) * 1000

        def run_all(samples: list[list[float]] | None) -> float:
            total = 0.0
            for i, (name, params) in enumerate(queries):
                started = time.perf_counter()
                reader.query(name, params)
                elapsed = (time.perf_counter() - started) * 1000
                total += elapsed
                if samples is not None:
                    samples[i].append(elapsed)
            for j, (sql, params) in enumerate(sandbox_calls):
                assert box is not None
                started = time.perf_counter()
                box.run(sql, user="bench", params=params)
                elapsed = (time.perf_counter() - started) * 1000
                total += elapsed
                if samples is not None:
                    samples[len(queries) + j].append(elapsed)
            return total

        run_all(None)
        samples: list[list[float]] = [[] for _ in range(len(queries) + len(sandbox_calls))]
        totals = [run_all(samples) for _ in range(max(repeats, 1))]
        names = [n for n, _ in queries] + ["sandbox:" + _first_words(s) for s, _ in sandbox_calls]
        per = [
            {"query": name, "ms": round(median(s), 2)}
            for name, s in zip(names, samples, strict=True)
        ]
        return Replayed(median(totals), per, build_ms)
    finally:
        if box is not None:
            box.close()
        reader.close()


def _first_words(sql: str) -> str:
    for line in sql.splitlines():
        if line.startswith("-- name:"):
            return line.split(":", 1)[1].strip()
    return " ".join(sql.split())[:40]
