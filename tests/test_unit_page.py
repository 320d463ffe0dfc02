"""单位全景 (pages/unit.py): its figures are the other pages' figures for the unit, a scoped
reader opens only its own units, clue counts follow the role, and every unit name in a table
links to the unit's page through an address built from the id alone."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from playwright.sync_api import Browser, expect
from streamlit.testing.v1 import AppTest

from tests.browser_support import shot
from tests.builders import real_copy, serving
from tests.conftest import AS_OF
from xuncha import figures
from xuncha.auth import UserStore
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.ui import widgets

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Xuncha-Test-2026"


def _pick_units(store: Store) -> dict[str, Any]:
    """B: a unit inspected in two rounds or more, one of whose inspections has 1–2 clues; A:
    another unit; R: a round that did not inspect B."""
    reader = open_reader(store)
    try:
        visits = reader.query("inspections_list")
        units = reader.query("units_list")
        clues = reader.query("clue_cells", {"inspection_ids": None, "as_of": AS_OF})
    finally:
        reader.close()
    counts = visits.group_by("unit_id").len()
    few = clues.filter(pl.col("clues").is_between(1, 2))["unit_id"]
    b = int(
        counts.filter((pl.col("len") >= 2) & pl.col("unit_id").is_in(few.implode())).sort(
            "unit_id"
        )["unit_id"][0]
    )
    a = int(units.filter(pl.col("unit_id") != b)["unit_id"][0])
    inspected_b = set(visits.filter(pl.col("unit_id") == b)["round_id"].to_list())
    other_round = visits.filter(~pl.col("round_id").is_in(list(inspected_b)))["round_name"][0]
    name = dict(units.select("unit_id", "short_name").rows())
    full = dict(units.select("unit_id", "name").rows())
    return {"A": a, "B": b, "R": other_round, "name": name, "full": full}


@pytest.fixture(scope="module")
def real(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    target = tmp_path_factory.mktemp("unit") / "store"
    store, users = real_copy(demo_store, target)
    picked = _pick_units(store)
    for role in ("office", "leader", "case"):
        users.add_user(f"u_{role}", role, actor="test", password=PASSWORD)
    users.add_user(
        "u_sup", "supervisor", actor="test", password=PASSWORD, units=[picked["full"][picked["A"]]]
    )
    users.add_user("u_group", "group", actor="test", password=PASSWORD, rounds=[picked["R"]])
    store.picked = picked  # type: ignore[attr-defined]
    yield store


@pytest.fixture()
def env(real: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    with serving(real, monkeypatch):
        yield real


def unit_page(store: Store, user: str, unit: int) -> AppTest:
    users = UserStore(store.root)
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"asof": AS_OF.isoformat(), "unit": str(unit)})
    at.session_state["_token"] = users.start_session(users.access_for(user))
    at.run()  # the pages a session may open are declared once it is signed in
    at.switch_page("pages/unit.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table_with(at: AppTest, *columns: str) -> pl.DataFrame:
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return pl.from_pandas(frame.value)
    raise AssertionError(f"no table with columns {columns}")


def unit_scope(store: Store, user: str, unit: int) -> Any:
    reader = open_reader(store)
    access = UserStore(store.root).access_for(user)
    return reader, resolve_scope(reader, Filters(as_of=AS_OF, unit_ids=(unit,)), access=access)


def page_text(at: AppTest) -> str:
    """Everything the page shows as text: elements, tables, widget options."""
    parts = [
        str(e.value)
        for kind in ("title", "markdown", "caption", "info", "error")
        for e in at.get(kind)
    ]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    parts += [str(o) for box in at.selectbox for o in box.options]
    parts += [m.label + str(m.value) for m in at.metric]
    return "\n".join(parts)


def test_the_page_shows_the_figures_of_the_other_pages_for_the_unit(env: Store) -> None:
    picked = env.picked  # type: ignore[attr-defined]
    unit = picked["B"]
    at = unit_page(env, "u_office", unit)
    assert at.title[0].value == "单位全景"
    assert picked["full"][unit] in page_text(at)

    reader, scope = unit_scope(env, "u_office", unit)
    try:
        expected = figures.rectification(reader, scope, "round", cycle_median=False)
        cells = reader.query("findings_by_unit_category", scope.params(level=1))
    finally:
        reader.close()
    shown = table_with(at, "轮次", "整改完成率(%)", "含基本完成的完成率(%)", "逾期措施")
    assert shown["轮次"].to_list() == expected["group_key"].to_list()
    assert shown["问题数"].to_list() == expected["findings"].to_list()
    assert shown["逾期措施"].to_list() == expected["overdue_measures"].to_list()
    assert shown["长期坚持措施"].to_list() == expected["measures_long_term"].to_list()
    for column, key in (
        ("整改完成率(%)", "completion_rate"),
        ("含基本完成的完成率(%)", "completion_rate_lenient"),
    ):
        assert shown[column].to_list() == pytest.approx(expected[key].to_list())

    # Findings by L1 category, summed over the rounds: the 问题分布 heatmap's cells.
    by_l1 = table_with(at, "轮次", "合计")
    mine = cells.filter(pl.col("unit_id") == unit)
    assert mine.height > 0
    for name, findings in mine.select("category_name", "findings").rows():
        assert int(by_l1[name].sum()) == findings
    assert int(by_l1["合计"].sum()) == int(mine["findings"].sum())


def test_a_reader_scoped_to_one_unit_cannot_open_another(env: Store) -> None:
    picked = env.picked  # type: ignore[attr-defined]
    b = picked["B"]
    at = unit_page(env, "u_sup", b)
    text = page_text(at)
    assert picked["name"][b] not in text and picked["full"][b] not in text
    assert not at.metric, "no figure of another unit"
    # Its own unit it opens.
    own = unit_page(env, "u_sup", picked["A"])
    assert picked["full"][picked["A"]] in page_text(own)


def test_a_reader_confined_to_rounds_is_refused_a_unit_those_rounds_did_not_inspect(
    env: Store,
) -> None:
    picked = env.picked  # type: ignore[attr-defined]
    b = picked["B"]
    at = unit_page(env, "u_group", b)
    assert [e.value for e in at.error] == ["无权查看该单位，或该单位不存在。"]
    text = page_text(at)
    assert picked["name"][b] not in text and picked["full"][b] not in text
    assert not at.metric and not at.dataframe


def test_clue_counts_are_ranges_without_case_rights_and_exact_for_a_case_role(
    env: Store,
) -> None:
    picked = env.picked  # type: ignore[attr-defined]
    unit = picked["B"]
    reader, scope = unit_scope(env, "u_office", unit)
    try:
        cells = reader.query(
            "clue_cells", {"inspection_ids": list(scope.inspection_ids), "as_of": AS_OF}
        )
        rounds = dict(reader.query("rounds_list").select("round_id", "name").rows())
    finally:
        reader.close()
    exact = {
        rounds[r]: (int(c), int(p))
        for r, c, p in cells.group_by("round_id")
        .agg(pl.col("clues").sum(), pl.col("persons").sum())
        .rows()
    }
    few = {rounds[r] for r in cells.filter(pl.col("clues").is_between(1, 2))["round_id"]}
    assert few

    case = table_with(unit_page(env, "u_case", unit), "线索数", "涉及人数")
    assert {r: (c, p) for r, c, p in case.rows()} == {
        r: (f"{c:,}", f"{p:,}") for r, (c, p) in exact.items()
    }
    leader = table_with(unit_page(env, "u_leader", unit), "线索数", "涉及人数")
    shown = {r: c for r, c, _ in leader.rows()}
    for name in few:
        assert shown[name] == "<3"
    for text in shown.values():
        assert re.fullmatch(r"<3|\d[\d,]*|\d[\d,]*–\d[\d,]*", text), text


HOSTILE = [
    "市财政局",
    "javascript:alert(1)",
    '<a href="http://203.0.113.9/u">市局</a>',
    "a&name=b#x?y=1 ",
    "[点此](http://203.0.113.9/m)",
]


def _table_script() -> None:
    # Run by AppTest as a script of its own: it imports what it uses.
    import polars as pl
    import streamlit as st

    from xuncha import ui
    from xuncha.filters import Filters

    st.session_state["filters"] = Filters(round_from=3, round_to=7, peer_groups=("市直部门",))
    names = st.session_state["names"]
    ui.table(
        pl.DataFrame(
            {"unit_id": list(range(1, len(names) + 1)), "unit_name": names, "n": [1] * len(names)}
        ),
        key="t",
    )
    ui.table(pl.DataFrame({"unit_name": names}), key="plain")


def test_a_table_links_each_unit_name_to_its_page_and_no_name_makes_a_foreign_link() -> None:
    at = AppTest.from_function(_table_script)
    at.session_state["names"] = HOSTILE
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    linked, plain = at.dataframe
    config = json.loads(linked.proto.columns)
    assert config["单位"]["type_config"]["type"] == "link"
    assert config["单位"]["type_config"]["display_text"] == widgets.UNIT_LINK_TEXT
    assert "单位编号" not in linked.value.columns
    for uid, (url, name) in enumerate(zip(linked.value["单位"], HOSTILE, strict=True), start=1):
        match = re.fullmatch(
            r"unit\?rounds=3-7&peer=([%0-9A-F]+)&unit=(\d+)&name=((?:%[0-9A-F]{2})*)", url
        )
        assert match, url
        assert urllib.parse.unquote(match.group(1)) == "市直部门"
        assert int(match.group(2)) == uid
        # What the cell shows: the regex's capture, decoded as the browser does.
        shown = re.search(widgets.UNIT_LINK_TEXT, url)
        assert shown is not None and urllib.parse.unquote(shown.group(1)) == name
    # Without the id, the name stays text.
    plain_config = json.loads(plain.proto.columns)
    assert plain_config["单位"]["type_config"]["type"] == "text"
    assert plain.value["单位"].to_list() == HOSTILE


@pytest.mark.browser
def test_a_click_on_a_unit_name_opens_the_unit_page(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory, demo_store: Store
) -> None:
    """In a real browser: on 单位全景, a click on a peer's name in the 同类组 table opens that
    unit's page (a new tab, as every link of a table) with the filters kept."""
    import shutil

    path = tmp_path_factory.mktemp("unitb") / "store"
    shutil.copytree(demo_store.root, path, ignore=shutil.ignore_patterns("*.lock"))
    reader = open_reader(Store(path))
    try:
        units = dict(reader.query("units_list").select("unit_id", "name").rows())
    finally:
        reader.close()
    with shot.serve(path) as base:
        context = browser.new_context(**shot.CONTEXT_OPTIONS)
        context.set_default_timeout(90_000)
        try:
            page = context.new_page()
            page.goto(f"{base}/unit?asof={AS_OF.isoformat()}&unit=5", wait_until="domcontentloaded")
            expect(page.locator("h3", has_text=units[5])).to_be_visible()
            heading = page.locator("div.stElementContainer", has_text="同类组各单位")
            table = heading.locator("xpath=following-sibling::div[1]").get_by_test_id("stDataFrame")
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
            table.scroll_into_view_if_needed()
            box = table.bounding_box()
            assert box is not None
            first_name = (box["x"] + 20, box["y"] + 35 + 17)  # below the header row
            page.mouse.move(*first_name)
            # The grid has taken the hover: a link under the pointer (a click before opens nothing).
            expect(table.locator("canvas").first).to_have_css("cursor", "pointer")
            with context.expect_page() as opened:
                page.mouse.click(*first_name)
            other = opened.value
            other.wait_for_load_state("domcontentloaded")
            asked = urllib.parse.parse_qs(urllib.parse.urlparse(other.url).query)
            target = int(asked["unit"][0])
            assert asked["asof"] == [AS_OF.isoformat()]
            expect(other.locator("h1", has_text="单位全景")).to_be_visible()
            expect(other.locator("h3", has_text=units[target])).to_be_visible()
        finally:
            context.close()
