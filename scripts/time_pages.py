"""Measure the demo build and each page's AppTest render (median of several runs).

    uv run python scripts/time_pages.py [--runs 7] [--findings N]

Cold: Streamlit caches cleared before the run (a new filter state). Warm: a second AppTest
with the caches kept (unchanged filters). Figures are medians in milliseconds; these machines
are shared and noisy, so compare numbers measured side by side in one run only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from xuncha import demo
from xuncha.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = [
    "pages/attention.py",
    "pages/overview.py",
    "pages/unit.py",
    "pages/compare.py",
    "pages/distribution.py",
    "pages/progress.py",
    "pages/repeats.py",
    "pages/sql_console.py",
    "pages/ledger_import.py",
]


def render(page: str, *, cold: bool) -> float:
    """Open the app at /, then time the run that renders `page` (as a user clicking to it)."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["asof"] = "2026-11-20"
    at.run()
    if at.exception:
        raise SystemExit(f"app: {at.exception[0].value}")
    if cold:
        st.cache_data.clear()
        st.cache_resource.clear()
    at.switch_page(page)
    started = time.perf_counter()
    at.run()
    elapsed = (time.perf_counter() - started) * 1000
    if at.exception:
        raise SystemExit(f"{page}: {at.exception[0].value}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--findings", type=int, default=None)
    parser.add_argument("--db", default=None, help="time pages on this existing store (no build)")
    args = parser.parse_args()
    root = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "store"
    builds = []
    for run in range(0 if args.db else max(3, args.runs // 2)):
        started = time.perf_counter()
        Store(root).write(lambda con: demo.build(con, findings=args.findings), fresh=True)
        builds.append(time.perf_counter() - started)
        print(f"build {run + 1}: {builds[-1]:.2f} s", flush=True)
    if builds:
        print(f"demo build: median {statistics.median(builds):.2f} s over {len(builds)} runs")
    os.environ["XUNCHA_DB"] = str(root)
    render(PAGES[0], cold=False)  # import warm-up
    for page in PAGES:
        cold, warm = [], []
        for _ in range(args.runs):
            cold.append(render(page, cold=True))
            warm.append(render(page, cold=False))
        print(
            f"{page}: cold median {statistics.median(cold):.0f} ms, "
            f"warm median {statistics.median(warm):.0f} ms ({args.runs} runs each)"
        )


if __name__ == "__main__":
    main()
