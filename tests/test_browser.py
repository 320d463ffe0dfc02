"""Real-browser tests: the dashboard served by `xuncha serve` on a demo store, opened in
Debian's headless Chromium. Pages render with their charts and no exception, a link with
filters reopens the same view, and nothing the pages load leaves loopback.

The server and page helpers live in scripts/screenshot.py (loaded by path: scripts/ is not a
package).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import shot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parents[1]

TITLES = ["总览", "问题分布"]
FILTER_QUERY = {"peer": "市直部门", "asof": "2025-06-30"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# -- fixtures --------------------------------------------------------------------------------


# -- helpers ---------------------------------------------------------------------------------


def nav_labels(page: Page) -> list[str]:
    """Sidebar navigation labels (a link's text is its icon's ligature name, then the label)."""
    texts = page.get_by_test_id("stSidebarNavLink").all_inner_texts()
    return [t.strip().splitlines()[-1].strip() for t in texts if t.strip()]


def assert_app_page(page: Page, title: str) -> None:
    """The page ran inside app.py: no exception, no dialog (Streamlit's "Page not found"),
    Chinese navigation and tab title, and the shared sidebar filters."""
    expect(page.get_by_test_id("stException")).to_have_count(0)
    dialogs = page.get_by_test_id("stDialog").all_inner_texts()
    assert not dialogs, f"a dialog is open over {title}: {dialogs}"
    labels = nav_labels(page)
    assert set(TITLES) <= set(labels) and all(re.search(r"[\u4e00-\u9fff]", t) for t in labels), (
        f"sidebar navigation shows {labels}, not the Chinese page titles: the page script ran "
        "without app.py (Streamlit's legacy pages/ directory mode)"
    )
    assert "巡察数据驾驶舱" in page.title()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stDateInput")).to_contain_text("统计截至日期")


def assert_filters_applied(page: Page) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    peer = sidebar.get_by_test_id("stMultiSelect").filter(has_text="同类组")
    expect(peer).to_contain_text(FILTER_QUERY["peer"])
    date_input = sidebar.get_by_test_id("stDateInput").locator("input")
    expect(date_input).to_have_value(FILTER_QUERY["asof"])
    caption = page.get_by_test_id("stMain").get_by_test_id("stCaptionContainer").first
    expect(caption).to_contain_text(f"统计截至 {FILTER_QUERY['asof']}")
    expect(caption).to_contain_text(f"同类组 {FILTER_QUERY['peer']}")
    query = {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert query == FILTER_QUERY, f"the URL lost its filters: {page.url}"


def query_string() -> str:
    return "?" + "&".join(f"{k}={v}" for k, v in FILTER_QUERY.items())


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(shot.PAGES))
def test_page_opens_with_its_charts(demo_app: str, page: Page, name: str) -> None:
    path, title, charts = shot.PAGES[name]
    shot.open_page(page, demo_app + path, title=title, charts=charts)
    expect(page.locator("h1").first).to_have_text(title)
    assert shot.drawn_charts(page) == charts
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(charts)
    assert_app_page(page, title)


@pytest.mark.parametrize("name", list(shot.PAGES))
def test_url_with_filters_reopens_the_same_view(demo_app: str, page: Page, name: str) -> None:
    path, title, charts = shot.PAGES[name]
    shot.open_page(page, demo_app + path + query_string(), title=title, charts=min(charts, 1))
    assert_app_page(page, title)
    assert_filters_applied(page)
    assert urlsplit(page.url).path == path


def test_deep_link_on_fresh_server(browser: Browser, demo_dir: Path, page: Page) -> None:
    """A shared link is often the first request after a restart: it must run app.py (sidebar,
    filters from the URL) like any later visit."""
    path, title, _ = shot.PAGES["distribution"]
    with shot.serve(demo_dir) as base:
        shot.open_page(page, base + path + query_string(), title=title, charts=1)
        assert_app_page(page, title)
        assert_filters_applied(page)


def test_no_request_leaves_loopback(demo_app: str, page: Page) -> None:
    urls: list[str] = []
    page.context.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    for path, title, charts in shot.PAGES.values():
        shot.open_page(page, demo_app + path, title=title, charts=charts)
    page.wait_for_timeout(1000)  # late requests: favicon, fonts, lazy chunks
    assert urls
    local_schemes = {"data", "blob", "about"}
    outside = sorted(
        {u for u in urls if urlsplit(u).scheme not in local_schemes}
        - {u for u in urls if urlsplit(u).hostname in LOOPBACK}
    )
    assert not outside, f"requests left loopback: {outside}"


def _settled(page: Page) -> None:
    """Wait for the rerun a widget started to finish (no reload)."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')


def test_interacting_reruns_the_page_without_an_exception(demo_app: str, page: Page) -> None:
    """Widgets rerun the script: a page control and a sidebar filter must rerun cleanly (a
    rerun once crashed on the round slider's state)."""
    path, title, charts = shot.PAGES["progress"]
    shot.open_page(page, demo_app + path, title=title, charts=charts)
    page.get_by_text("含基本完成的完成率", exact=True).first.click()
    _settled(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    sidebar = page.get_by_test_id("stSidebar")
    peers = sidebar.get_by_test_id("stMultiSelect").nth(2)  # 同类组
    # The sidebar scrolls on its own: bring the control into view before opening its list
    # (below the fold, the list opens outside the window and shows no option).
    peers.scroll_into_view_if_needed()
    peers.click()
    page.get_by_role("option", name="国有企业").click()
    page.keyboard.press("Escape")
    _settled(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert "peer=" in page.url
    expect(
        page.get_by_test_id("stMain").get_by_test_id("stCaptionContainer").first
    ).to_contain_text("同类组 国有企业")
