"""Real-browser checks of access (headless Chromium against `xuncha serve`): a real store
shows the login page and nothing else, on every path; a user signs in through the form and
sees the pages of their role; the 领导简报 page drafts a briefing with its charts drawn; a
download's URL serves only the browser session that made it; ledger text is never a link."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import shot
from tests.builders import copy_store, plain_demo
from xuncha.auth import UserStore

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_access")]

ROOT = Path(__file__).resolve().parents[1]

PASSWORD = "Xuncha-Test-2026"


@pytest.fixture(scope="module")
def real_app(
    browser: Browser, store_template: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real (non-demo) store with a viewer and an office user, served."""
    path = tmp_path_factory.mktemp("real") / "store"
    store = copy_store(store_template("demo", plain_demo), path)
    store.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("office1", "office", actor="test", password=PASSWORD)
    users.add_user("viewer1", "viewer", actor="test", password=PASSWORD)
    with shot.serve(path) as base:
        yield base


def sign_in(page: Page, base: str, name: str) -> None:
    page.goto(base + "/", wait_until="domcontentloaded")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1", has_text="关注事项")).to_be_visible()


def open_in_app(page: Page, title: str) -> None:
    """Another page of the app, as a user gets there: the sidebar (a full load would ask
    for the password again: the built-in login lives in the browser tab)."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    expect(page.locator("h1", has_text=title)).to_be_visible(timeout=60_000)


def login_page_only(page: Page) -> None:
    expect(page.locator("h1", has_text="巡察数据驾驶舱")).to_be_visible()
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码", exact=True)).to_be_visible()
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert page.get_by_test_id("stMetric").count() == 0
    assert page.get_by_test_id("stDataFrame").count() == 0
    assert shot.drawn_charts(page) == 0


@pytest.mark.parametrize("path", ["/", "/distribution", "/sql", "/import", "/admin", "/briefing"])
def test_without_login_a_real_store_shows_the_login_page_and_nothing_else(
    real_app: str, page: Page, path: str
) -> None:
    page.goto(real_app + path, wait_until="domcontentloaded")
    login_page_only(page)


def test_a_user_signs_in_and_sees_the_pages_of_their_role(real_app: str, page: Page) -> None:
    page.goto(real_app + "/", wait_until="domcontentloaded")
    page.get_by_label("用户名").fill("viewer1")
    page.get_by_label("密码", exact=True).fill("wrong-password-1")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("用户名或密码错误")).to_be_visible()
    page.get_by_label("用户名").fill("viewer1")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1", has_text="关注事项")).to_be_visible()
    expect(page.get_by_test_id("stMetric").first).to_be_visible()  # the first screen's cards
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_contain_text("整改进度")
    expect(nav).not_to_contain_text("数据查询")
    expect(nav).not_to_contain_text("数据导入")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("viewer1（只读）")


def test_the_demo_store_opens_without_login_with_a_banner(demo_app: str, page: Page) -> None:
    page.goto(demo_app + "/", wait_until="domcontentloaded")
    expect(page.locator("h1", has_text="关注事项")).to_be_visible()
    expect(page.get_by_text("演示数据").first).to_be_visible()


def test_the_briefing_page_drafts_with_charts(demo_app: str, page: Page) -> None:
    page.goto(demo_app + "/briefing", wait_until="domcontentloaded")
    expect(page.locator("h1", has_text="领导简报")).to_be_visible()
    page.get_by_role("button", name="起草简报").click()
    expect(page.locator("h4", has_text="七、下步工作建议")).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".filter(p => p.querySelector('.main-svg')).length >= 2",
        timeout=60_000,
    )


def plain_get(base: str, path: str) -> int:
    """A request from outside any browser session (the URL copied elsewhere)."""
    parts = urllib.parse.urlsplit(base)
    con = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        con.request("GET", path)
        return con.getresponse().status
    finally:
        con.close()


def test_a_download_goes_only_to_the_browser_session_that_made_it(
    real_app: str, browser: Browser
) -> None:
    """office1 exports the list on 问题分布; the file's URL gives the file to office1's tab
    only: not to a request without a session, not to viewer1 signed in on another browser
    (a viewer has no export right at all)."""
    contexts = [browser.new_context(**shot.CONTEXT_OPTIONS) for _ in range(2)]
    try:
        office, viewer = (c.new_page() for c in contexts)
        for p in (office, viewer):
            p.set_default_timeout(60_000)
        sign_in(viewer, real_app, "viewer1")
        sign_in(office, real_app, "office1")
        open_in_app(office, "问题分布")
        with office.expect_download() as started:
            office.get_by_role("button", name="导出 CSV").first.click()
        url = started.value.url
        path = urllib.parse.urlsplit(url).path
        assert path.startswith("/media/") and path.endswith(".csv"), url
        data = Path(started.value.path()).read_bytes()
        assert data.startswith("\ufeff".encode())
        # (No script runs meanwhile: Streamlit itself drops the file after a few runs.)
        refused = contexts[1].request.get(url)
        assert refused.status == 403
        assert "不属于当前登录的用户或会话" in refused.text()
        assert plain_get(real_app, path) == 403
        again = contexts[0].request.get(url)
        assert again.status == 200 and again.body() == data
        assert "no-store" in again.headers.get("cache-control", "")
    finally:
        for c in contexts:
            c.close()


HOSTILE_LINK = "http://203.0.113.9/"


@pytest.fixture(scope="module")
def hostile_app(
    browser: Browser, store_template: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real store whose ledger text and unit names carry links, HTML and Markdown."""
    path = tmp_path_factory.mktemp("hostile") / "store"
    store = copy_store(store_template("demo", plain_demo), path)

    def plant(con: object) -> None:
        run = con.execute  # type: ignore[attr-defined]
        run("UPDATE store_meta SET value = 'false' WHERE key = 'demo'")
        run(
            "UPDATE units SET short_name = '<a href=\"http://203.0.113.9/u\">' || short_name"
            " || '</a>'"
        )
        run(
            "UPDATE findings SET title = title || ' 见 http://203.0.113.9/t',"
            " detail = coalesce(detail, '') || ' 详见 http://203.0.113.9/d、www.evil.example、"
            "[点此](http://203.0.113.9/m) 与 a@evil.example'"
        )

    store.write(plant)
    users = UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("office1", "office", actor="test", password=PASSWORD)
    with shot.serve(path) as base:
        yield base


def links_out(page: Page) -> list[str]:
    """Every link on the page (HTML and SVG) that leads off the dashboard."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('a')]
            .map(a => a.getAttribute('href') || a.getAttribute('xlink:href') || '')
            .filter(h => /203\\.0\\.113\\.9|evil\\.example|^mailto:/.test(h))"""
    )
    return found


def test_ledger_text_is_never_a_link(hostile_app: str, page: Page) -> None:
    """Unit names holding <a href> and ledger text holding URLs, a www. address, an e-mail
    and a Markdown link: the charts (tick labels, hover), the tables and the drill-down
    show them as text, with no link anywhere on the page."""
    sign_in(page, hostile_app, "office1")
    open_in_app(page, "问题分布")
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3"
    )
    ticks = page.locator(".js-plotly-plot .ytick text").all_text_contents()
    assert any('<a href="http://203.0.113.9/u">' in t for t in ticks), ticks[:5]
    assert links_out(page) == []

    # The drill-down: the first row of the list, its text and measures below.
    table = page.locator(".st-key-dist_detail [data-testid='stDataFrame']")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 18)  # the first row's selection box
    # (md() puts an invisible word joiner before what GFM would link by itself.)
    shown = page.get_by_text(re.compile("详见 \u2060?http://203\\.0\\.113\\.9/d")).first
    expect(shown).to_be_visible(timeout=60_000)
    assert "[点此](http://203.0.113.9/m)" in shown.inner_text().replace("\u2060", "")
    assert links_out(page) == []
