"""The cost of running user SQL in a query process (issue 17) beside running it in the
dashboard's own process as before: the same sandbox file, the same small queries, the same
work (statement check, run, rows to Polars; no audit in either), alternated run by run in one
loop; and what a process costs to start and to open a sandbox."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from xuncha.bench.timing import median
from xuncha.filters import Scope
from xuncha.sandbox import build, pool
from xuncha.sandbox.core import DISPLAY_MAX_ROWS, Sandbox, _to_polars, _unique
from xuncha.sandbox.statements import check_sql
from xuncha.store import Store

QUERIES = {
    "select_42": "SELECT 42 AS answer",
    "findings_by_l1": (
        "SELECT category_l1, count(*) AS n FROM findings GROUP BY ALL ORDER BY category_l1"
    ),
}


def measure(root: Path, scope: Scope, runs: int, starts: int) -> dict[str, Any]:
    """Medians in ms: each query `runs` times in process and in a query process, alternated;
    a query process started `starts` times (start to ready) and its sandbox opened."""
    store = Store(root)
    box = Sandbox.for_scope(store, scope, clue_details=False, cache=False)
    con = _in_process(store, box)
    try:
        queries: dict[str, Any] = {}
        for name, sql in QUERIES.items():
            inside: list[float] = []
            outside: list[float] = []
            for i in range(max(runs, 1) + 1):  # the first pair is the warm-up
                order = ((inside, _local), (outside, _remote))
                for samples, how in order if i % 2 else order[::-1]:
                    started = time.perf_counter()
                    rows = how(box, con, sql)
                    if i:
                        samples.append((time.perf_counter() - started) * 1000)
            queries[name] = {
                "sql": sql,
                "rows": rows,
                "in_process_ms": round(median(inside), 3),
                "process_ms": round(median(outside), 3),
                "overhead_ms": round(median(outside) - median(inside), 3),
            }
        return {
            "runs": max(runs, 1),
            "starts": max(starts, 1),
            "queries": queries,
            **_starts(box, max(starts, 1)),
            "config": dict(vars(pool.get_pool().config)),
        }
    finally:
        con.close()
        box.close()


def _in_process(store: Store, box: Sandbox) -> Any:
    """The sandbox file opened in this process, locked as before issue 17 (and as a query
    process opens it)."""
    folder = build.new_folder(store)
    try:
        path = build.copy_prepared(store, box.version, box.scope, folder)
        if path is None:
            path = build.build_file(
                store, box.version, box.scope, clue_details=False, folder=folder
            )
        return build.open_locked(path, box.limits)
    finally:
        build.discard(folder)


def _local(box: Sandbox, con: Any, sql: str) -> int:
    """Before issue 17: check and run on a cursor of the dashboard's own connection."""
    cursor = con.cursor()
    try:
        check_sql(cursor, sql, max_chars=box.limits.max_sql_chars)
        reader = cursor.sql(sql).to_arrow_reader(DISPLAY_MAX_ROWS + 1)
        table = reader.read_all()
    finally:
        cursor.close()
    return _to_polars(table, _unique(table.column_names)).height


def _remote(box: Sandbox, con: Any, sql: str) -> int:
    """Since issue 17: check and run in a query process, the rows back as Arrow."""
    fetched = box._fetch(sql, None, DISPLAY_MAX_ROWS, user=None, check=True)
    return _to_polars(fetched.table, _unique(fetched.names)).height


def _starts(box: Sandbox, starts: int) -> dict[str, Any]:
    """A query process started (start to ready) and the sandbox opened in it, `starts` times;
    its memory once open."""
    the_pool = pool.get_pool()
    ready: list[float] = []
    opened: list[float] = []
    rss: list[int] = []
    for _ in range(starts):
        started = time.perf_counter()
        process = pool.QueryProcess(the_pool.config.start_allowance)
        try:
            process.wait_ready(time.monotonic() + pool.START_TIMEOUT)
            ready.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            box._open_in(pool.Lease(the_pool, process))
            opened.append((time.perf_counter() - started) * 1000)
            rss.append(_rss_kb(process.pid))
        finally:
            process.kill()
    return {
        "start_ms": round(median(ready), 1),
        "open_ms": round(median(opened), 1),
        "process_rss_mb": round(median([float(r) for r in rss]) / 1024, 1),
    }


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
