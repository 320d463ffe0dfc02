"""Browser-side time to a drawn chart: Debian's headless Chromium (never a downloaded
browser) opens the 总览 page of the dashboard served on loopback, and the time from
navigation to the first plotly chart with its SVG drawn is taken.

Each visit is a new browser context (a new session) with a new 统计截至 date in the URL, so
no query result is reused: what a leader waits after changing the date. The first visit
also pays the server's first run (imports, the store opened)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from xuncha.bench.server import serve
from xuncha.bench.timing import median

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
_DRAWN = """() => [...document.querySelectorAll(
    '[data-testid="stPlotlyChart"] .main-svg, .js-plotly-plot .main-svg')].length > 0"""


def time_to_chart(
    db: Path, as_of: dt.date, runs: int = 5, timeout_s: float = 300
) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing (scripts/setup.sh --browser)")
    from playwright.sync_api import sync_playwright

    samples: list[float] = []
    with serve(db) as served, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(runs + 1):
                day = (as_of - dt.timedelta(days=i)).isoformat()
                context = browser.new_context(
                    viewport={"width": 1440, "height": 900},
                    locale="zh-CN",
                    timezone_id="Asia/Shanghai",
                )
                try:
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"{served.base}/?asof={day}", wait_until="commit")
                    page.wait_for_function(_DRAWN, timeout=timeout_s * 1000, polling=20)
                    samples.append((time.perf_counter() - started) * 1000)
                    errors = page.get_by_test_id("stException").count()
                    if errors:
                        raise RuntimeError(f"the 总览 page shows an exception ({day})")
                finally:
                    context.close()
        finally:
            browser.close()
    return {
        "browser_chart_ms": round(median(samples[1:]), 1),
        "browser_chart_ms_first": round(samples[0], 1),
        "browser_runs": runs,
    }
