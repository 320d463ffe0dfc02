"""Full-page screenshots of the dashboard's pages, for the docs and for reviewing the UI.

    .venv/bin/python scripts/screenshot.py [--db STORE] [--out-dir docs] [--port 0]

Starts the app on loopback (a fresh demo store in a temporary directory unless --db is given),
opens every page in Debian's Chromium at 1440×900 with a Chinese locale, waits for the charts,
writes `screenshot-<page>.png` into the output directory and stops the server.

The server and page helpers are also used by tests/test_browser.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
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
VIEWPORT = {"width": 1440, "height": 900}
CONTEXT_OPTIONS: dict[str, Any] = {
    "viewport": VIEWPORT,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
# page -> (URL path, title, plotly charts drawn at default filters on the demo store). The
# default page (关注事项, the first screen) is served at the root.
PAGES = {
    "attention": ("/", "关注事项", 0),
    "overview": ("/overview", "总览", 1),
    "distribution": ("/distribution", "问题分布", 4),
    "progress": ("/progress", "整改进度", 3),
    "repeats": ("/repeats", "屡查屡犯", 2),
    "ecology": ("/ecology", "政治生态研判", 3),
    "briefing": ("/briefing", "领导简报", 0),
    "sql": ("/sql", "数据查询", 0),
    "import": ("/import", "数据导入", 0),
}


# -- the server ---------------------------------------------------------------------------


@contextlib.contextmanager
def serve(db: str | os.PathLike[str], *, port: int = 0, timeout: float = 60.0) -> Iterator[str]:
    """Run `xuncha serve` on 127.0.0.1 for the store db (the helper the benchmark uses: its
    own process group, always stopped); yield its base URL once /_stcore/health answers."""
    from xuncha.bench.server import serve as serve_store

    with serve_store(Path(db), port=port, timeout=timeout) as served:
        yield served.base


_DRAWN = """n => {
    const app = document.querySelector('[data-testid="stApp"]');
    const drawn = [...document.querySelectorAll('.js-plotly-plot')]
        .filter(p => p.querySelector('.main-svg')).length;
    return app !== null && app.dataset.testScriptState === 'notRunning' && drawn >= n;
}"""


def drawn_charts(page: Any) -> int:
    """Plotly charts on the page that have drawn their SVG."""
    return int(
        page.evaluate(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".filter(p => p.querySelector('.main-svg')).length"
        )
    )


def open_page(page: Any, url: str, *, title: str, charts: int, timeout_ms: int = 30_000) -> None:
    """Open url and wait until the script run is over, the page title is shown and at least
    `charts` plotly charts are drawn."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.locator("h1", has_text=title).first.wait_for(timeout=timeout_ms)
    page.wait_for_function(_DRAWN, arg=charts, timeout=timeout_ms)
    page.evaluate("document.fonts.ready")


def warm_up(page: Any, base: str) -> None:
    """Open the entry point once. On a freshly started server Streamlit runs a deep link such as
    /distribution in its legacy pages/ directory mode (the page script alone, without app.py)
    until some session has run app.py; a visitor normally arrives through /."""
    path, title, charts = PAGES["attention"]
    open_page(page, base + path, title=title, charts=charts)


def full_page_screenshot(page: Any, path: Path) -> None:
    """Streamlit scrolls inside its main block, not the document, so Playwright's full_page
    alone gives the viewport: grow the viewport to the content, shoot, and restore it."""
    height = VIEWPORT["height"]
    for _ in range(5):
        needed = int(
            page.evaluate(
                """() => Math.max(...['stMain', 'stSidebarContent'].map(id => {
                    const el = document.querySelector(`[data-testid="${id}"]`);
                    return el ? el.scrollHeight : 0;
                }))"""
            )
        )
        if needed <= height:
            break
        height = min(needed, 20_000)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(800)  # let charts and tables lay out again
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


# -- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="驾驶舱各页面截图（整页，1440×900 视口）")
    parser.add_argument("--db", default=None, help="数据仓目录（默认：临时生成演示数据）")
    parser.add_argument("--out-dir", default=str(ROOT / "docs"), help="输出目录（默认 docs/）")
    parser.add_argument("--port", type=int, default=0, help="端口（默认任选空闲端口）")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} 不存在：请先运行 scripts/setup.sh --browser")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="xuncha-shot-") as tmp:
        db = args.db
        if db is None:
            from xuncha import demo
            from xuncha.store import Store

            db = str(Path(tmp) / "store")
            Store(db).write(lambda con: demo.build(con), fresh=True)
        with serve(db, port=args.port) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(**CONTEXT_OPTIONS).new_page()
                warm_up(page, base)
                for name, (path, title, charts) in PAGES.items():
                    open_page(page, base + path, title=title, charts=charts)
                    target = out_dir / f"screenshot-{name}.png"
                    full_page_screenshot(page, target)
                    print(target)
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
