"""Real-browser checks of access (headless Chromium against `xuncha serve`): a real store
shows the login page and nothing else, on every path; a user signs in through the form and
sees the pages of their role; the 领导简报 page drafts a briefing with its charts drawn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import shot
from xuncha import demo
from xuncha.auth import UserStore
from xuncha.store import Store

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]

PASSWORD = "Xuncha-Test-2026"


@pytest.fixture(scope="module")
def real_app(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real (non-demo) store with a viewer and an office user, served."""
    path = tmp_path_factory.mktemp("real") / "store"
    store = Store(path)
    store.write(lambda con: demo.build(con), fresh=True)
    store.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("office1", "office", actor="test", password=PASSWORD)
    users.add_user("viewer1", "viewer", actor="test", password=PASSWORD)
    with shot.serve(path) as base:
        yield base


@pytest.fixture(scope="module")
def demo_app(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("demo") / "store"
    Store(path).write(lambda con: demo.build(con), fresh=True)
    with shot.serve(path) as base:
        yield base


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**shot.CONTEXT_OPTIONS)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def login_page_only(page: Page) -> None:
    expect(page.locator("h1", has_text="巡察数据驾驶舱")).to_be_visible()
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码")).to_be_visible()
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
    page.get_by_label("密码").fill("wrong-password-1")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("用户名或密码错误")).to_be_visible()
    page.get_by_label("用户名").fill("viewer1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1", has_text="总览")).to_be_visible()
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0"
    )
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_contain_text("整改进度")
    expect(nav).not_to_contain_text("数据查询")
    expect(nav).not_to_contain_text("数据导入")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("viewer1（只读）")


def test_the_demo_store_opens_without_login_with_a_banner(demo_app: str, page: Page) -> None:
    page.goto(demo_app + "/", wait_until="domcontentloaded")
    expect(page.locator("h1", has_text="总览")).to_be_visible()
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
