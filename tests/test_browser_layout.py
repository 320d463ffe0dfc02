"""Layouts that hold, in Debian's headless Chromium (issue 21, items 4, 8 and 9): a leader signed
in on the demo store opens 总览, 问题分布, 整改进度 and 政治生态 at 390, 820, 1280 and 1920 px.

Measured by the DOM's geometry, not by eye: no KPI value or label is cut (its text fits its
box, no ellipsis applied), no two KPI cards overlap, every page carries the viewer's
watermark; at 820 px the filters are a drawer (closed on first load, opened over the content
by its toggle); printed, the page has no sidebar nor buttons and fits A4 landscape.

Golden screenshots: tests/golden/screens/<page>_<width>.png is the first viewport as
reviewed, and <page>_<width>.json the boxes of its landmarks (title, KPI cards, charts).
The live boxes must match the JSON within a tolerance (the data's figures and the
watermark's time change; the layout must not). After a reviewed change of layout:

    XUNCHA_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_browser_layout.py -k holds

rewrites both files of every page and width; look at the pictures before committing them.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import cut_metrics, shot
from tests.builders import copy_store, plain_demo
from xuncha.auth import UserStore
from xuncha.bench.server import serve as serve_store

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_layout")]

GOLDEN = Path(__file__).resolve().parent / "golden" / "screens"
UPDATE = os.environ.get("XUNCHA_UPDATE_GOLDEN") == "1"
PASSWORD = "Xuncha-Test-2026"
LEADER = "王领导"
WIDTHS = {390: 844, 820: 1180, 1280: 800, 1920: 1080}
# file name -> (navigation label, page title, plotly charts drawn at default filters)
PAGES = {
    "attention": ("关注事项", "关注事项", 0),  # the first screen
    "overview": ("总览", "总览", 1),
    "distribution": ("问题分布", "问题分布", 4),
    "progress": ("整改进度", "整改进度", 3),
    "ecology": ("政治生态", "政治生态研判", 3),
}
# A4 landscape less the stylesheet's 10 mm margins, in CSS pixels; a PDF page in points.
PAPER_WIDTH_PX = 277 * 96 / 25.4
# Landmarks may move or grow this much (px, or this share of their size) against the golden
# boxes: figures and dates change the width of a text, never the layout.
TOLERANCE_PX = 24
TOLERANCE_SHARE = 0.08


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(
    browser: Browser, store_template: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The demo store served with its login form on (XUNCHA_DEMO_LOGIN), with a leader."""
    path = tmp_path_factory.mktemp("layout") / "store"
    copy_store(store_template("demo", plain_demo), path)
    users = UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user(LEADER, "leader", actor="test", password=PASSWORD)
    with serve_store(path, env={"XUNCHA_DEMO_LOGIN": "1"}) as served:
        yield served.base


def new_page(browser: Browser, width: int) -> Page:
    context = browser.new_context(
        **{**shot.CONTEXT_OPTIONS, "viewport": {"width": width, "height": WIDTHS[width]}}
    )
    context.set_default_timeout(60_000)
    return context.new_page()


@pytest.fixture()
def at_width(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = new_page(browser, request.param)
    try:
        yield page
    finally:
        page.context.close()


# -- helpers ---------------------------------------------------------------------------------

_SETTLED = """n => {
    const app = document.querySelector('[data-testid="stApp"]');
    const drawn = [...document.querySelectorAll('.js-plotly-plot')]
        .filter(p => p.querySelector('.main-svg')).length;
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid="stSkeleton"]') && drawn >= n;
}"""


def settle(page: Page, title: str, charts: int) -> None:
    page.locator("h1", has_text=title).first.wait_for()
    page.wait_for_function(_SETTLED, arg=charts)
    page.evaluate("document.fonts.ready")


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/", wait_until="domcontentloaded")
    page.get_by_label("用户名").fill(LEADER)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    settle(page, "关注事项", PAGES["attention"][2])


CLOSED = "() => document.querySelector('[data-testid=\"stSidebar\"]').dataset.collapsed === 'true'"


def sidebar_open(page: Page) -> bool:
    return bool(
        page.evaluate(
            """() => { const s = document.querySelector('[data-testid="stSidebar"]');
                const r = s.getBoundingClientRect();
                return s.dataset.collapsed === 'false' && r.right > 0 && r.width > 0; }"""
        )
    )


def go_to(page: Page, name: str) -> None:
    """Another page as a user gets there: through the sidebar, opened first when it is a
    drawer (a full load would ask for the password again)."""
    label, title, charts = PAGES[name]
    if not sidebar_open(page):
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stSidebar\"]').dataset.collapsed"
            " === 'false'"
        )
    page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).first.click()
    settle(page, title, charts)


def boxes(page: Page, selector: str) -> list[dict[str, float]]:
    return list(
        page.evaluate(
            """s => [...document.querySelectorAll(s)].map(e => e.getBoundingClientRect())
                .filter(r => r.width > 0 && r.height > 0)
                .map(r => ({x: r.x, y: r.y, w: r.width, h: r.height}))""",
            selector,
        )
    )


def overlapping(cards: list[dict[str, float]]) -> list[tuple[int, int]]:
    out = []
    for i, a in enumerate(cards):
        for j in range(i + 1, len(cards)):
            b = cards[j]
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:
                out.append((i, j))
    return out


def landmarks(page: Page, height: int) -> dict[str, list[dict[str, int]]]:
    """The boxes of the first viewport's landmarks, rounded."""
    found = {
        "title": boxes(page, '[data-testid="stMain"] h1'),
        "metrics": boxes(page, '[data-testid="stMetric"]'),
        "charts": boxes(page, '[data-testid="stPlotlyChart"]'),
    }
    return {
        kind: [{k: round(v) for k, v in b.items()} for b in found_boxes if b["y"] < height][
            : 1 if kind == "title" else None
        ]
        for kind, found_boxes in found.items()
    }


def differs(live: dict[str, int], golden: dict[str, int]) -> list[str]:
    out = []
    for key in ("x", "y", "w", "h"):
        size = golden["w"] if key in ("x", "w") else golden["h"]
        if abs(live[key] - golden[key]) > max(TOLERANCE_PX, TOLERANCE_SHARE * size):
            out.append(f"{key} {live[key]} (golden {golden[key]})")
    return out


def small_png(data: bytes) -> bytes:
    """A screenshot in at most 256 colours: the layout reads, the file stays small."""
    image = (
        Image.open(io.BytesIO(data))
        .convert("RGB")
        .quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def compare_with_golden(page: Page, name: str, width: int) -> None:
    height = WIDTHS[width]
    live = landmarks(page, height)
    picture, boxes_file = GOLDEN / f"{name}_{width}.png", GOLDEN / f"{name}_{width}.json"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        picture.write_bytes(small_png(page.screenshot()))
        boxes_file.write_text(json.dumps(live, indent=1) + "\n", encoding="utf-8")
        return
    assert picture.exists() and boxes_file.exists(), f"no golden screenshot for {name} at {width}"
    golden = json.loads(boxes_file.read_text(encoding="utf-8"))
    problems = []
    for kind, expected in golden.items():
        got = live[kind]
        if len(got) != len(expected):
            problems.append(f"{kind}: {len(got)} in the first viewport, golden {len(expected)}")
            continue
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            if wrong := differs(a, b):
                problems.append(f"{kind}[{i}]: " + ", ".join(wrong))
    assert not problems, f"{name} at {width} px moved from its golden layout: {problems}"


def watermark(page: Page) -> str:
    return str(
        page.evaluate(
            """() => { const w = document.querySelector('.xc-watermark');
                return w ? w.querySelector('span').textContent + '|' +
                    getComputedStyle(w).pointerEvents + '|' + getComputedStyle(w).position : ''; }"""
        )
    )


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("at_width", list(WIDTHS), indirect=True, ids=lambda w: f"{w}px")
def test_every_page_holds_its_layout(app: str, at_width: Page) -> None:
    page = at_width
    width = page.viewport_size["width"] if page.viewport_size else 0
    sign_in(page, app)
    for name in PAGES:
        if name != "attention":
            go_to(page, name)
        if width < 1024:  # the drawer closes once a page is chosen in it
            page.wait_for_function(CLOSED)
        page.wait_for_function("() => !document.getAnimations().length")
        assert page.get_by_test_id("stException").count() == 0
        assert not cut_metrics(page), f"{name} at {width} px: {cut_metrics(page)}"
        cards = boxes(page, '[data-testid="stMetric"]')
        assert not overlapping(cards), f"{name} at {width} px: cards overlap"
        main = page.get_by_test_id("stMainBlockContainer").bounding_box()
        assert main is not None and all(
            c["x"] >= main["x"] - 1 and c["x"] + c["w"] <= main["x"] + main["width"] + 1
            for c in cards
        ), f"{name} at {width} px: a card runs out of the page"
        text, events, position = watermark(page).split("|")
        assert re.fullmatch(rf"{LEADER} \d{{4}}-\d\d-\d\d \d\d:\d\d", text), text
        assert (events, position) == ("none", "fixed")
        compare_with_golden(page, name, width)


def test_on_a_tablet_the_filters_are_a_drawer(app: str, browser: Browser) -> None:
    page = new_page(browser, 820)
    try:
        sign_in(page, app)
        assert not sidebar_open(page), "the sidebar is open on a tablet's first load"
        before = page.get_by_test_id("stMainBlockContainer").bounding_box()
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function("() => !document.getAnimations().length")
        assert sidebar_open(page)
        expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
        # Over the content: the page beneath keeps its width and place.
        assert page.get_by_test_id("stMainBlockContainer").bounding_box() == before
        go_to(page, "progress")
        page.wait_for_function(CLOSED)
        assert not sidebar_open(page), "the drawer stays open over the chosen page"
    finally:
        page.context.close()


def pdf_words(pdf: bytes, folder: Path) -> list[tuple[int, float, str]]:
    """(page number, right edge as a share of the page's width, word) of every word."""
    source, target = folder / "page.pdf", folder / "page.html"
    source.write_bytes(pdf)
    subprocess.run(["pdftotext", "-bbox", str(source), str(target)], check=True)
    words: list[tuple[int, float, str]] = []
    for number, (width, body) in enumerate(
        re.findall(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', target.read_text(), re.S), 1
    ):
        for x_max, word in re.findall(r'xMax="([\d.]+)"[^>]*>([^<]*)</word>', body):
            words.append((number, float(x_max) / float(width), word))
    return words


@pytest.mark.parametrize("name", ["overview", "distribution"])
def test_printed_the_page_fits_a4_landscape_without_controls(
    app: str, browser: Browser, tmp_path: Path, name: str
) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is missing: run scripts/setup.sh")
    page = new_page(browser, 1920)
    try:
        sign_in(page, app)
        go_to(page, name)
        page.wait_for_timeout(1500)  # the page script measures the main block every second
        words = pdf_words(page.pdf(format="A4", landscape=True), tmp_path)
        pages = {n for n, _, _ in words}
        assert pages == set(range(1, max(pages) + 1))
        # No blank page: each holds more than the watermark.
        for number in pages:
            own = [w for n, _, w in words if n == number and LEADER not in w]
            assert [w for w in own if not re.fullmatch(r"[\d:-]+", w)], f"page {number} is blank"
        assert max(share for _, share, _ in words) <= 1.0, "text runs off the page's right edge"
        text = " ".join(w for _, _, w in words)
        assert PAGES[name][1] in text
        for control in ("退出登录", "轮次范围", "统计截至日期", "下载"):
            assert control not in text, f"{control} printed"

        page.emulate_media(media="print")
        assert page.get_by_test_id("stSidebar").evaluate("e => getComputedStyle(e).display") == (
            "none"
        )
        shown_buttons = page.evaluate(
            """() => [...document.querySelectorAll('button, [data-testid="stDownloadButton"]')]
                .filter(e => e.getBoundingClientRect().width > 0)
                .filter(e => e.getAttribute('aria-checked') !== 'true')
                .map(e => e.innerText || e.getAttribute('aria-label'))"""
        )
        assert shown_buttons == [], f"controls printed: {shown_buttons}"  # a chosen option stays
        main = page.get_by_test_id("stMainBlockContainer").bounding_box()
        assert main is not None and main["width"] <= PAPER_WIDTH_PX + 1
    finally:
        page.context.close()


def test_the_golden_screenshots_are_kept_small() -> None:
    pictures = sorted(GOLDEN.glob("*.png"))
    assert len(pictures) == len(PAGES) * len(WIDTHS)
    for picture in pictures:
        assert picture.stat().st_size < 400_000, picture.name
        with Image.open(picture) as image:
            width = int(picture.stem.rsplit("_", 1)[1])
            assert image.size == (width, WIDTHS[width]), picture.name
