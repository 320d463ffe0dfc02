"""The benchmark's load test alone (xuncha/bench/load.py `load_test`, as `xuncha bench --load`
runs it on its largest store): SESSIONS virtual users for SECONDS on a copy of STORE served by
one dashboard process, one ledger import during the run; the summary (p50, p95, errors, the
server's RSS peak, the import) as one JSON line, also written beside the store.

The server inherits this process's environment, so a setting is measured by running the
script under it, e.g. the memory knobs of bench/RESULTS.md's fourth pass of issue 22:

    PYTHONPATH=. python scripts/bench_load.py /tmp/bench22/store-1000000 default
    MALLOC_ARENA_MAX=2 PYTHONPATH=. python scripts/bench_load.py /tmp/bench22/store-1000000 arena2

STORE is copied first (load.real_copy: the copy gets users and the import), never changed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from xuncha.bench import importer, load, pages, server
from xuncha.store import Store, open_reader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("label", help="names the copy, the server log and the JSON file")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    folder = args.store.parent
    reader = open_reader(Store(args.store))
    try:
        states = pages.filter_states(reader)
    finally:
        reader.close()
    ledger = folder / "load-ledger.xlsx"
    if not ledger.exists():
        importer.build_ledger(ledger, 200)
    started = time.monotonic()
    summary = load.on_a_copy(
        args.store,
        folder,
        args.label,
        states,
        sessions=args.sessions,
        seconds=args.seconds,
        ledger=ledger,
        serving=server.serve,
    )
    out = {**summary, "label": args.label, "wall_s": round(time.monotonic() - started)}
    print(json.dumps(out, ensure_ascii=False))
    (folder / f"load-{args.label}.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
