"""Throughput through nginx with 1 and several dashboard processes (`xuncha serve --workers`).

A quick side-by-side, not the benchmark's load test (xuncha/bench/load.py): for each worker
count in turn (alternated over several rounds, as the machine is shared and noisy), serve the
store with `serve_gated` (the workers, the login gate, nginx sticky on the session cookie),
let SESSIONS virtual users (load.py's own, each with a session cookie of its own, so nginx
spreads them) warm up for WARM seconds, then count the page runs they complete in SECONDS.

    PYTHONPATH=. python scripts/bench_workers.py /tmp/workers/store-1000000 --workers 1,2 --rounds 2

It opens the store's users database to start the sessions: run it on a copy of a store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from xuncha.bench import load, pages, server
from xuncha.bench.timing import percentile
from xuncha.store import Store, open_reader


def _drive(port: int, states: dict, headers: list[dict[str, str]], seconds: float, seed: int):
    result = load.LoadResult(sessions=len(headers), seconds=seconds)
    deadline = time.monotonic() + seconds

    async def main() -> None:
        await asyncio.gather(
            *(
                load._user(port, seed + i, states, deadline, result, h)
                for i, h in enumerate(headers)
            )
        )

    asyncio.run(main())
    return result


def run(db: Path, workers: int, sessions: int, warm: float, seconds: float, seed: int) -> dict:
    reader = open_reader(Store(db))
    try:
        states = pages.filter_states(reader)
    finally:
        reader.close()
    headers = [load._signed_in(db) for _ in range(sessions)]  # one session cookie each
    with server.serve_gated(db, workers=workers) as served:
        _drive(served.port, states, headers, warm, seed)
        result = _drive(served.port, states, headers, seconds, seed + 1000)
        upstreams = {}
        if served.access_log is not None:
            for line in served.access_log.read_text().splitlines():
                parts = line.split("\t")
                if len(parts) > 3 and parts[2] == "/_stcore/stream":
                    upstreams[parts[3]] = upstreams.get(parts[3], 0) + 1
    ms = result.page_ms
    return {
        "workers": workers,
        "sessions": sessions,
        "seconds": seconds,
        "page_runs": len(ms),
        "runs_per_s": round(len(ms) / seconds, 2),
        "p50_ms": round(percentile(ms, 50), 0) if ms else None,
        "p95_ms": round(percentile(ms, 95), 0) if ms else None,
        "errors": len(result.errors),
        "error_examples": sorted(set(result.errors))[:3],
        "websockets_per_worker": upstreams,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--warm", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rows = []
    for r in range(args.rounds):
        for n in counts:
            row = run(args.db, n, args.sessions, args.warm, args.seconds, seed=r * 100)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
    for n in counts:
        mine = [row for row in rows if row["workers"] == n]
        print(
            f"workers={n}: runs/s median {statistics.median(r['runs_per_s'] for r in mine):.2f} "
            f"p50 median {statistics.median(r['p50_ms'] or 0 for r in mine):.0f} ms "
            f"p95 median {statistics.median(r['p95_ms'] or 0 for r in mine):.0f} ms "
            f"errors {sum(r['errors'] for r in mine)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
