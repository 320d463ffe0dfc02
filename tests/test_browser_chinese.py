"""Real-browser checks of Chinese throughout (headless Chromium): every page as each role (each
at one of 390, 820, 1280 and 1920 px), with a dataframe's column menu and a chart's modebar
opened, shows no English word in its visible text, title, aria-label or placeholder outside the
proper names, no KPI cut and no developer text; and `streamlit
run app.py` serves the same app as `xuncha serve` (a deep link opened first on a fresh server
runs through app.py, downloads go only to the session that made them)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import cut_metrics, developer_text, shot
from tests.builders import copy_store, plain_demo
from xuncha.auth import UserStore
from xuncha.bench.server import _stop, _wait_healthy, free_port
from xuncha.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_chinese")]

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Xuncha-Test-2026"
ROLES = {"巡察办": "office", "领导": "leader", "监督检查室": "supervisor", "联络员": "liaison"}
ROLES["管理员"] = "admin"
# Each role walks its pages at one of the four widths (the leader walks four pages at all four
# in test_browser_layout.py): a phone, a tablet, a laptop and a desktop each get two roles.
WIDTHS = {"巡察办": (1920, 1080), "领导": (390, 844), "监督检查室": (820, 1180)}
WIDTHS |= {"联络员": (390, 844), "管理员": (1280, 900)}
# Proper names (and the SQL keywords the 数据查询 page names) a Chinese page may show.
ALLOWED = {
    "Excel", "SQL", "PDF", "Word", "CSV", "csv", "xlsx", "xls", "XLSX", "XLS", "docx",
    "DuckDB", "PNG", "JSON", "MB", "KB", "Plotly", "LibreOffice", "UTF", "BOM", "SELECT",
    "WITH", "FROM", "DESCRIBE", "SUMMARIZE", "Asia", "Shanghai", "GB",
    # file names of evidence (users' data)
    "png", "jpg", "jpeg", "pdf",
}  # fmt: skip

SCAN = """() => {
  const word = /[A-Za-z]{2,}/;
  const shown = el => el && el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})
      && el.getClientRects().length > 0;
  const written = el => el.closest('script, style, noscript, textarea, input, pre, code')
      || /Material/.test(getComputedStyle(el).fontFamily);
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walker.nextNode())) {
    const el = n.parentElement, t = (n.nodeValue || "").trim();
    if (t && word.test(t) && el && !written(el) && shown(el)) out.push(t);
  }
  for (const el of document.querySelectorAll("[title],[aria-label],[placeholder],[data-title]")) {
    if (!shown(el) && !el.closest(".modebar")) continue;
    for (const a of ["title", "aria-label", "placeholder", "data-title"]) {
      const v = el.getAttribute(a);
      if (v && word.test(v)) out.push(v);
    }
  }
  return out;
}"""


def english(texts: list[str], ignore: str = "") -> set[str]:
    """The English words of these texts outside ALLOWED (`ignore`: a path to drop first)."""
    words: set[str] = set()
    for text in texts:
        words |= set(re.findall(r"[A-Za-z]{2,}", text.replace(ignore, "") if ignore else text))
    return words - ALLOWED


def settled(page: Page) -> None:
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState"
        " === 'notRunning'",
        timeout=90_000,
    )
    page.wait_for_timeout(500)  # the translator's observer runs after React's commit


@pytest.fixture(scope="module")
def store_dir(
    browser: Browser, store_template: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("zh") / "store"
    return copy_store(store_template("demo", plain_demo), path).root


@pytest.fixture(scope="module")
def real_app(
    store_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The demo data as a real store, one user per role, served by `xuncha serve`."""
    import shutil

    path = tmp_path_factory.mktemp("zh_real") / "store"
    shutil.copytree(store_dir, path)
    store = Store(path)
    store.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    unit = store.connect().execute("SELECT short_name FROM units ORDER BY unit_id").fetchone()
    for name, role in ROLES.items():
        units = [unit[0]] if role == "liaison" else None
        users.add_user(name, role, actor="test", password=PASSWORD, units=units)
    with shot.serve(path) as base:
        yield base, path


def open_drawer(page: Page) -> None:
    """Below 1024 px the navigation is a drawer, closed on arrival and after each choice."""
    closed = "() => document.querySelector('[data-testid=\"stSidebar\"]')?.dataset.collapsed"
    if page.evaluate(closed) == "true":
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function(f"() => ({closed})() === 'false'")
        page.wait_for_function("() => !document.getAnimations().length")


def open_menus(page: Page) -> list[str]:
    """Texts shown by a dataframe's toolbar and column menu and a chart's modebar, if any."""
    seen: list[str] = []
    frames = page.get_by_test_id("stDataFrame")
    if frames.count():
        frame = frames.first
        frame.scroll_into_view_if_needed()
        frame.hover()
        box = frame.bounding_box()
        if box:
            page.mouse.click(box["x"] + 40, box["y"] + 17)  # the first column's header
            page.wait_for_timeout(400)
            seen += page.evaluate(SCAN)
            page.keyboard.press("Escape")
    charts = page.locator(".js-plotly-plot")
    if charts.count():
        charts.first.scroll_into_view_if_needed()
        charts.first.hover()
        page.wait_for_timeout(300)
        seen += page.evaluate(SCAN)
    return seen


@pytest.mark.parametrize("user", list(ROLES), ids=list(ROLES.values()))
def test_no_english_on_any_page(browser: Browser, real_app: tuple[str, Path], user: str) -> None:
    base, store_path = real_app
    width, height = WIDTHS[user]
    viewport = {"width": width, "height": height}
    context = browser.new_context(**{**shot.CONTEXT_OPTIONS, "viewport": viewport})
    context.set_default_timeout(90_000)
    try:
        page = context.new_page()
        page.goto(base + "/", wait_until="domcontentloaded")
        settled(page)
        found = {"登录页": english(page.evaluate(SCAN))}
        page.get_by_label("用户名").fill(user)
        page.get_by_label("密码", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_test_id("stSidebarNav").wait_for(state="attached")
        settled(page)
        links = page.get_by_test_id("stSidebarNavLink")
        titles = [t.strip().splitlines()[-1] for t in links.all_inner_texts() if t.strip()]
        assert len(titles) >= 2, titles
        menus_opened = False
        cut: dict[str, list[str]] = {}
        developer: dict[str, list[str]] = {}
        for title in titles:
            open_drawer(page)
            links.filter(has_text=title).first.click()
            settled(page)
            if cut_metrics(page):
                cut[title] = cut_metrics(page)
            if developer_text(page):
                developer[title] = developer_text(page)
            texts = page.evaluate(SCAN)
            if not menus_opened and page.get_by_test_id("stDataFrame").count():
                texts += open_menus(page)
                menus_opened = True
            words = english(texts, ignore=str(store_path))
            if words:
                found[title] = words
        found = {k: v for k, v in found.items() if v}
        assert not found, f"{user}: English words shown: {found}"
        assert not cut, f"{user} at {width} px: KPI cut: {cut}"
        assert not developer, f"{user}: developer text shown: {developer}"
    finally:
        context.close()


# -- streamlit run app.py ----------------------------------------------------------------------


@contextlib.contextmanager
def streamlit_run(db: Path) -> Iterator[str]:
    """`streamlit run app.py`, as a Streamlit user types it, on a fresh server."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1"]
    env = {**os.environ, "XUNCHA_DB": str(db), "STREAMLIT_SERVER_HEADLESS": "true"}
    with open(os.devnull, "w+b") as sink:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", proc, sink, 120)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(proc)


def test_streamlit_run_serves_the_same_app(browser: Browser, store_dir: Path) -> None:
    contexts = [browser.new_context(**shot.CONTEXT_OPTIONS) for _ in range(2)]
    try:
        page, other = (c.new_page() for c in contexts)
        page.set_default_timeout(90_000)
        with streamlit_run(store_dir) as base:
            # A deep link is the first request of the fresh server.
            page.goto(base + "/distribution?peer=市直部门", wait_until="domcontentloaded")
            page.locator("h1", has_text="问题分布").first.wait_for()
            settled(page)
            labels = [
                t.strip().splitlines()[-1]
                for t in page.get_by_test_id("stSidebarNavLink").all_inner_texts()
                if t.strip()
            ]
            assert {"总览", "问题分布", "整改进度"} <= set(labels), labels
            assert all(re.search(r"[\u4e00-\u9fff]", t) for t in labels), labels
            assert page.title() == "巡察数据驾驶舱"
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_test_id("stMain")).to_contain_text("同类组 市直部门")
            expect(page.get_by_test_id("stMain")).not_to_contain_text("下载未启用")
            with page.expect_download() as started:
                page.get_by_role("button", name="导出 CSV").first.click()
            url = started.value.url
            assert urllib.parse.urlsplit(url).path.startswith("/media/"), url
            refused = contexts[1].request.get(url)
            assert refused.status == 403, refused.status
            assert "不属于当前登录的用户或会话" in refused.text()
            assert contexts[0].request.get(url).status == 200
            other.close()
    finally:
        for c in contexts:
            c.close()
