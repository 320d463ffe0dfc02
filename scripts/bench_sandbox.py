"""Time the SQL sandbox: building it for the whole store and running a few typical queries.

    uv run python scripts/bench_sandbox.py --db data/demo [--runs 5]

Medians in milliseconds; the sandbox is built afresh for each build timing (cache off).
"""

from __future__ import annotations

import argparse
import statistics
import time

from xuncha.filters import Filters, resolve_scope
from xuncha.sandbox import EXPORT_MAX_ROWS, Sandbox
from xuncha.store import Store, open_reader

QUERIES = {
    "count": "SELECT count(*) FROM findings",
    "join_group": "SELECT u.peer_group, f.category_l1, count(*) FROM findings f "
    "JOIN units u USING (unit_id) GROUP BY ALL",
    "timeline_as_of": "SELECT status, count(*) FROM finding_timeline WHERE valid_from <= "
    "DATE '2026-11-20' AND (valid_to IS NULL OR valid_to > DATE '2026-11-20') GROUP BY ALL",
    "window": "SELECT unit_id, count(*) OVER (PARTITION BY unit_id) FROM findings LIMIT 1000",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    store = Store(args.db)
    reader = open_reader(store)
    scope = resolve_scope(reader, Filters())
    builds = []
    box = None
    for _ in range(max(1, args.runs // 2)):
        started = time.perf_counter()
        box = Sandbox.for_scope(store, scope, clue_details=False, cache=False)
        builds.append((time.perf_counter() - started) * 1000)
        box.close()
    print(
        f"sandbox build (whole store, {len(scope.inspection_ids):,} inspections): "
        f"median {statistics.median(builds):.0f} ms over {len(builds)} builds"
    )
    box = Sandbox.for_scope(store, scope, clue_details=False, cache=False)
    for name, sql in QUERIES.items():
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            box.run(sql, user="bench", max_rows=EXPORT_MAX_ROWS, purpose="bench")
            times.append((time.perf_counter() - started) * 1000)
        print(f"{name}: median {statistics.median(times):.1f} ms over {args.runs} runs")
    box.close()


if __name__ == "__main__":
    main()
