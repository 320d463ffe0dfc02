"""The benchmark's browser measurement (xuncha/bench/browser.py) on a small demo store, two
pages, one visit each: every figure issue 22 asks for is there and positive, the websocket
bytes are attributed to the elements that carried them, and a page with charts receives more
than the page without. No timing is asserted (speed belongs in the benchmark's output)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from xuncha.bench import browser as bench_browser
from xuncha.bench import harness
from xuncha.demo import DEMO_AS_OF

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("bench_browser")]

FIELDS = (
    "browser_first_visit_ms",
    "browser_filter_change_ms",
    "page_bytes",
    "page_bytes_filter_change",
    "page_bytes_ws",
    "page_bytes_http",
    "browser_cpu_ms",
    "browser_cpu_ms_filter_change",
    "script_done_ms",
    "renderer_cpu_ms",
    "renderer_cpu_ms_filter_change",
)


@pytest.fixture(scope="module")
def measured(
    browser: Browser, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    # Its own copy: the measurement adds the benchmark's user and session to the store.
    store = tmp_path_factory.mktemp("bench_browser") / "store"
    shutil.copytree(demo_dir, store)
    chosen = [p for p in bench_browser.BROWSER_PAGES if p.name in ("overview", "sql")]
    return bench_browser.measure_pages(
        store, DEMO_AS_OF, pages=chosen, runs=1, timeout_s=120, browser=browser
    )


def _row(measured: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in measured["pages"] if r["page"] == name)


def test_every_figure_is_there_and_positive(measured: dict[str, Any]) -> None:
    assert [r["page"] for r in measured["pages"]] == ["overview", "sql"]
    for row in measured["pages"]:
        assert row["failures"] == [], row["failures"]
        for key in FIELDS:
            assert row[key] > 0, (row["page"], key)
        assert row["page_bytes"] == row["page_bytes_ws"] + row["page_bytes_http"]
        for cpu in (row["browser_cpu"], row["browser_cpu_filter_change"]):
            assert set(cpu) == set(bench_browser.CPU_METRICS)
            assert cpu["TaskDuration"] >= cpu["ScriptDuration"] > 0
        # The end is the last DOM change, never before the script run was over.
        assert row["browser_first_visit_ms"] >= row["script_done_ms"]
    assert measured["browser_chart_ms"] > 0


def test_the_chart_page_draws_its_charts_and_receives_more(measured: dict[str, Any]) -> None:
    overview, sql = _row(measured, "overview"), _row(measured, "sql")
    assert overview["charts"] >= 1 and sql["charts"] == 0
    assert overview["first_chart_ms"] <= overview["browser_first_visit_ms"]
    kinds = {e["what"] for e in overview["bytes_by_element"]}
    assert "plotly_chart" in kinds, kinds
    plotly = next(e["bytes"] for e in overview["bytes_by_element"] if e["what"] == "plotly_chart")
    assert plotly > max(
        (e["bytes"] for e in sql["bytes_by_element"] if e["what"] == "plotly_chart"), default=0
    )
    # Plotly's part of the frontend and the figures' JSON: more than the page of a table.
    assert overview["page_bytes"] > sql["page_bytes"]
    # The filter change sends a new run, not the frontend again.
    assert overview["page_bytes_filter_change"] < overview["page_bytes"]


def test_the_report_and_budgets_carry_every_page(measured: dict[str, Any]) -> None:
    size = {"findings": 3_878, "browser": measured, "pages": [], "text_search_ms_worst": 1.0}
    out: dict[str, Any] = {"sizes": [size]}
    found = [b for b in harness.budgets(out) if "浏览器" in b["budget"]]
    assert len(found) == 2 * len(measured["pages"])
    assert all(b["met"] in (True, False) for b in found)
    text = "\n".join(bench_browser.text_lines(measured))
    table = "\n".join(bench_browser.markdown_lines(measured))
    for row in measured["pages"]:
        assert row["page"] in text and row["title"] in table
