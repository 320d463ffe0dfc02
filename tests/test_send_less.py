"""Less sent to the browser: unit pickers of a store with many units send at most PICKER_CAP
options found by a search on the server (the reader's scope kept), long tables send one page
of rows at a time while their exports hold every row, and charts send only what they draw."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy, unit_names
from tests.conftest import AS_OF
from tests.test_lists_export import csv_rows
from tests.test_pages import open_page
from xuncha import charts, figures
from xuncha.auth import UserStore
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.ui import download_buttons, unit_picker, widgets
from xuncha.ui.plotly_charts import CHART_DECIMALS, _inert_figure

APP = str(Path(__file__).resolve().parents[1] / "app.py")
CAP = 5  # options a searched picker may send in these tests (the product's is 50)
PASSWORD = "Xuncha-Test-2026"
GROUP_UNITS = ("市统计局", "市应急管理局")


@pytest.fixture()
def many_units(app_env: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The demo store (64 units) taken as a store of many units: pickers search above 10."""
    monkeypatch.setattr(unit_picker, "PICKER_LIST_ALL", 10)
    monkeypatch.setattr(unit_picker, "PICKER_CAP", CAP)
    yield app_env


def units_of(store: Store) -> pl.DataFrame:
    reader = open_reader(store)
    try:
        return reader.query("units_list")
    finally:
        reader.close()


def sidebar_units(at: AppTest) -> Any:
    return at.sidebar.multiselect(key="f_unit")


# -- the search itself ------------------------------------------------------------------------


def test_matching_units_keeps_the_chosen_first_then_at_most_cap_matches_in_order() -> None:
    names = {i: f"单位{i:03d}" for i in range(1, 201)}
    assert unit_picker.matching_units(names, "", cap=3) == [1, 2, 3]
    # Every word must match; the chosen unit stays, even when it does not match.
    found = unit_picker.matching_units(names, "单位 01", keep=[150], cap=4)
    assert found == [150, 1, 10, 11, 12]  # 单位001, 单位010, …
    assert unit_picker.matching_units(names, "无此单位", keep=[999]) == []  # 999 is no unit
    # The search text (full names) is matched, the label is what is shown.
    full = {1: "江城市财政局 财政局", 2: "江城市公安局 公安局"}
    assert unit_picker.matching_units({1: "财政局", 2: "公安局"}, "江城 公安", search=full) == [2]


# -- the sidebar --------------------------------------------------------------------------------


def sidebar_with(search: str = "", **query: str) -> AppTest:
    """The first screen opened with `search` typed in 搜索单位 and `query` in the URL (each
    search a new session: AppTest does not redraw the sidebar on a rerun)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"asof": AS_OF.isoformat(), **query})
    at.session_state["f_unit_search"] = search
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_sidebar_of_many_units_sends_at_most_the_cap_and_finds_a_unit_by_part_of_its_name(
    many_units: Store,
) -> None:
    units = units_of(many_units)
    assert units.height > 10
    at = sidebar_with()
    picker = sidebar_units(at)
    assert len(picker.options) == CAP
    assert at.sidebar.text_input(key="f_unit_search").label == "搜索单位"
    # The last unit of the list (never among the first options), by part of its full name.
    target = units.row(units.height - 1, named=True)
    assert str(target["short_name"]) not in picker.options
    part = str(target["name"])[-3:]
    expected = [s for n, s in units.select("name", "short_name").rows() if part in f"{n} {s}"]
    picker = sidebar_units(sidebar_with(part))
    assert picker.options == expected[:CAP]
    assert str(target["short_name"]) in sidebar_units(sidebar_with(str(target["name"]))).options


def test_a_link_with_a_unit_keeps_it_among_few_options_whatever_the_search(
    many_units: Store,
) -> None:
    units = units_of(many_units)
    target = units.row(units.height - 1, named=True)
    unit = str(target["unit_id"])
    at = sidebar_with(unit=unit)
    picker = sidebar_units(at)
    assert picker.value == [int(unit)] and at.query_params["unit"] == unit
    assert len(picker.options) == CAP + 1 and str(target["short_name"]) in picker.options
    at = sidebar_with("没有这样的单位", unit=unit)
    picker = sidebar_units(at)
    assert picker.options == [str(target["short_name"])] and picker.value == [int(unit)]
    assert at.query_params["unit"] == unit


def test_a_scoped_readers_search_finds_only_its_own_units(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, users = real_copy(demo_store, tmp_path / "store")
    users.add_user("u_group", "group", actor="test", password=PASSWORD, units=list(GROUP_UNITS))
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    monkeypatch.setattr(unit_picker, "PICKER_LIST_ALL", 1)
    short_names = set(units_of(store)["short_name"].to_list())
    assert {"市公安局", *GROUP_UNITS} <= short_names  # 市公安局: outside the reader's scope
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        for text, want in (("市", set(GROUP_UNITS)), ("公安", set()), ("统计", {"市统计局"})):
            at = AppTest.from_file(APP, default_timeout=120)
            at.query_params["asof"] = AS_OF.isoformat()
            at.session_state["_token"] = UserStore(store.root).start_session(
                UserStore(store.root).access_for("u_group")
            )
            at.session_state["f_unit_search"] = text
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            assert set(sidebar_units(at).options) == want, text
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()


def test_the_unit_page_picker_searches_among_many_units(many_units: Store) -> None:
    units = units_of(many_units)
    at = open_page("pages/unit.py")
    picker = next(s for s in at.selectbox if s.label == "单位")
    assert len(picker.options) <= CAP
    target = units.row(units.height - 1, named=True)
    search = next(t for t in at.text_input if t.label == "搜索单位")
    search.input(str(target["name"])).run()
    picker = next(s for s in at.selectbox if s.label == "单位")
    assert str(target["short_name"]) in picker.options and len(picker.options) <= CAP


# -- paged tables -------------------------------------------------------------------------------


@pytest.fixture()
def captured(app_env: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """The download builders each page registers, by key, instead of buttons."""
    found: dict[str, dict[str, Any]] = {}

    def capture(
        xlsx: Callable[[], bytes], csv_: Callable[[], bytes], *, key: str, **kwargs: Any
    ) -> None:
        found[key] = {"xlsx": xlsx, "csv": csv_, **kwargs}

    monkeypatch.setattr(download_buttons, "_download_pair", capture)
    return found


def _detail_list(store: Store) -> pl.DataFrame:
    """问题分布's 问题明细 as the store lists it (every row, in the page's order)."""
    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        return reader.query(
            "findings_detail", scope.params(unit_id=None, category=None, limit=10**7)
        )
    finally:
        reader.close()


def test_a_paged_table_shows_page_two_as_rows_51_to_100_and_its_export_holds_all(
    captured: dict[str, dict[str, Any]], app_env: Store
) -> None:
    whole = _detail_list(app_env)
    size = widgets.TABLE_PAGE_ROWS
    assert whole.height > 2 * size
    at = open_page("pages/distribution.py")
    first = at.dataframe(key="dist_detail").value
    assert first["问题编号"].tolist() == whole["finding_id"].head(size).to_list()
    pages = widgets.page_count(min(whole.height, widgets.TABLE_MAX_ROWS))
    assert any(m.value == f"第 1 / {pages} 页" for m in at.markdown)
    assert at.button(key="dist_detail_prev").disabled
    at.button(key="dist_detail_next").click().run()
    assert not at.exception
    second = at.dataframe(key=f"dist_detail__from{size}").value
    assert second["问题编号"].tolist() == whole["finding_id"].slice(size, size).to_list()
    assert any(m.value == f"第 2 / {pages} 页" for m in at.markdown)
    notes = " ".join(str(c.value) for c in at.caption)
    assert f"共 {whole.height:,} 行，每页 {size} 行" in notes
    rows = csv_rows(captured["dl_dist_detail"]["csv"]())
    assert [int(r[0]) for r in rows[1:]] == whole["finding_id"].to_list()


def test_a_paged_table_sorts_every_row_kept_not_only_the_page_and_starts_again_at_page_one(
    app_env: Store,
) -> None:
    whole = _detail_list(app_env).head(widgets.TABLE_MAX_ROWS)
    size = widgets.TABLE_PAGE_ROWS
    at = open_page("pages/distribution.py")
    at.button(key="dist_detail_next").click().run()
    assert any(m.value.startswith("第 2 / ") for m in at.markdown)
    sort = at.selectbox(key="dist_detail_sort")
    assert sort.value is None and sort.format_func(("finding_id", True)) == "问题编号 降序"
    sort.set_value(("finding_id", True)).run()
    assert not at.exception
    assert any(m.value.startswith("第 1 / ") for m in at.markdown)  # back to the first page
    shown = at.dataframe(key="dist_detail").value["问题编号"].tolist()
    ids = whole["finding_id"].sort(descending=True).to_list()
    assert shown == ids[:size] and shown != whole["finding_id"].head(size).to_list()
    at.button(key="dist_detail_next").click().run()
    assert (
        at.dataframe(key=f"dist_detail__from{size}").value["问题编号"].tolist()
        == ids[size : 2 * size]
    )
    # A selected row of a sorted page is its row in the list as the page has it.
    order = whole.with_row_index("i").sort("finding_id", descending=True)["i"].to_list()
    event = SimpleNamespace(selection=SimpleNamespace(rows=[2]))
    page = order[size : 2 * size]
    assert widgets.selected_row(widgets._PageSelection(event, size, page)) == order[size + 2]


def test_a_row_selected_on_page_two_is_that_row_of_the_whole_list(app_env: Store) -> None:
    """A selection event counts its row in the whole list (selected_row), not in the page."""

    event = SimpleNamespace(selection=SimpleNamespace(rows=[3]))
    assert widgets.selected_row(widgets._PageSelection(event, 50)) == 53
    assert widgets.page_count(0) == 1 and widgets.page_count(101, 50) == 3


# -- charts -------------------------------------------------------------------------------------


def test_a_ranking_chart_draws_no_more_bars_than_its_cap(demo_reader: Any) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=AS_OF))
    by_unit = figures.rectification(demo_reader, scope, "unit", cycle_median=False)
    assert by_unit.height > charts.RANKING_BARS
    fig = charts.rate_ranking(
        charts.lowest(by_unit, "completion_rate"), "completion_rate", "整改完成率"
    )
    assert all(len(trace.y) <= charts.RANKING_BARS for trace in fig.data)


def test_a_charts_numbers_are_sent_rounded() -> None:
    spec = {"data": [{"type": "bar", "x": [84.123456789, 1], "customdata": [[0.333333333, "a"]]}]}
    sent = _inert_figure(spec)["data"][0]
    assert sent["x"] == [round(84.123456789, CHART_DECIMALS), 1]
    assert sent["customdata"] == [[round(0.333333333, CHART_DECIMALS), "a"]]


def test_the_ecology_unit_profile_picker_searches_among_many_units(
    many_units: Store, whole_tables: None
) -> None:
    at = open_page("pages/ecology.py")
    picker = at.selectbox(key="eco_unit")
    assert len(picker.options) <= CAP
    # The units of the ranking are those the picker chooses among.
    ranking = next(f.value for f in at.dataframe if "同类组排名" in f.value.columns)
    assert len(ranking) > CAP
    target = unit_names(ranking["单位"])[-1]
    assert not any(option.startswith(target + "（") for option in picker.options)
    at.text_input(key="eco_unit_search").input(target).run()
    picker = at.selectbox(key="eco_unit")
    assert len(picker.options) <= CAP
    assert any(option.startswith(target + "（") for option in picker.options), picker.options
