"""Every chart is a way in: a click on a heatmap cell, treemap tile, bar or point (given as
Streamlit hands it back, through st.session_state) lists exactly the findings behind it,
directly under the chart; the builders put names on the axes and the codes in the hover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.builders import unit_names
from tests.conftest import AS_OF
from xuncha import charts, figures
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, Store, open_reader
from xuncha.ui.plotly_charts import LAST_CLICKED

APP = str(Path(__file__).resolve().parents[1] / "app.py")


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def whole_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests compare a table's rows with the figures, not its paging (test_send_less
    pages): every row on one page."""
    from xuncha.ui import widgets

    monkeypatch.setattr(widgets, "TABLE_PAGE_ROWS", 1_000_000)


@pytest.fixture()
def demo(app_env: Store) -> Iterator[tuple[Reader, Scope]]:
    """The demo store's reader and the pages' default scope (everything, as of AS_OF)."""
    reader = open_reader(app_env)
    try:
        yield reader, resolve_scope(reader, Filters(as_of=AS_OF))
    finally:
        reader.close()


def selection(point: dict[str, Any]) -> dict[str, Any]:
    """A click as Streamlit keeps it in st.session_state under the chart's key."""
    return {"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}}


def bar(customdata: list[Any]) -> dict[str, Any]:
    return selection(
        {"curve_number": 0, "point_number": 0, "point_index": 0, "customdata": customdata}
    )


def clicked_on(page: str, **state: Any) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["asof"] = AS_OF.isoformat()
    at.run()
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(page)  # the first screen is 关注事项
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def drilled(at: AppTest, key: str) -> pl.DataFrame:
    """The finding list shown under a chart (ui.chart_findings with key `key`)."""
    return pl.from_pandas(at.dataframe(key=f"{key}_findings").value)


def headings(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("##### ")]


def says_total(at: AppTest, n: int) -> bool:
    return any(c.value.startswith(f"共 {n:,} 个问题") for c in at.caption)


def detail(reader: Reader, scope: Scope, **params: Any) -> pl.DataFrame:
    """What the drill-down must equal: findings_detail for that unit and category."""
    args = {"unit_id": None, "category": None, "limit": None} | params
    return reader.query("findings_detail", scope.params(**args))


def round_scope(reader: Reader, seq: int) -> Scope:
    return resolve_scope(reader, Filters(as_of=AS_OF, round_from=seq, round_to=seq))


# -- the builders ----------------------------------------------------------------------------


def test_the_heatmap_has_names_on_its_axes_codes_in_the_hover_and_a_clickable_cell() -> None:
    frame = pl.DataFrame(
        {
            "unit_id": [7, 7, 9],
            "unit_name": ["市甲局", "市甲局", "市乙局"],
            "category": ["A", "B", "A"],
            "category_name": ["政治建设", "作风建设方面存在的问题", "政治建设"],
            "findings": [3, 5, 2],
        }
    )
    fig = charts.heatmap(frame)
    spec = fig.to_dict()
    layout = spec["layout"]
    assert list(layout["xaxis"]["tickvals"]) == ["A", "B"]
    assert list(layout["xaxis"]["ticktext"]) == ["政治建设", charts.short("作风建设方面存在的问题")]
    assert list(layout["yaxis"]["ticktext"]) == ["市乙局", "市甲局"]  # fewest findings first
    heat, cells = spec["data"]
    assert heat["type"] == "heatmap" and heat["hoverinfo"] == "skip"
    assert [list(r) for r in fig.data[0].z] == [[2, 0], [3, 5]]
    assert cells["type"] == "scatter"
    by_cell = {(c[0], c[1]): tuple(c) for c in cells["customdata"]}
    assert by_cell[("7", "B")] == ("7", "B", "市甲局", "作风建设方面存在的问题", 5)
    assert by_cell[("9", "B")][4] == 0  # an empty cell is clickable too
    assert "%{customdata[1]}" in cells["hovertemplate"]  # the code in the hover
    # A click anywhere in a cell goes to its marker, the nearest.
    assert layout["hoverdistance"] == -1
    assert charts.clicked_cell({"customdata": list(by_cell[("7", "B")])}) == ("7", "B")


def test_the_treemap_shows_names_and_gives_back_the_code_of_a_clicked_tile() -> None:
    frame = pl.DataFrame(
        {
            "category_l1": ["B", "B", "C"],
            "l1_name": ["作风", "作风", "组织"],
            "category_l2": ["B01", "B02", "C01"],
            "l2_name": ["形式主义", "享乐主义", "班子建设"],
            "findings": [4, 6, 1],
        }
    )
    trace = charts.category_treemap(frame).to_dict()["data"][0]
    assert list(trace["labels"]) == ["作风", "组织", "形式主义", "享乐主义", "班子建设"]
    assert list(trace["customdata"]) == ["B", "C", "B01", "B02", "C01"]
    assert "%{customdata}" in trace["hovertemplate"]
    tiles = dict(zip(trace["ids"], trace["values"], strict=True))
    assert (tiles["L1-B"], tiles["L2-B02"]) == (10, 6)
    assert charts.clicked_category({"id": "L2-B02", "parent": "L1-B"}) == "B02"
    assert charts.clicked_category({"id": "L1-C", "parent": ""}) == "C"
    assert charts.clicked_category({"customdata": ["B"]}) is None


def test_bars_carry_what_a_click_stands_for_and_names_on_their_axes() -> None:
    rounds = pl.DataFrame(
        {
            "group_key": ["第一轮", "第二轮"],
            "group_id": ["11", "12"],
            "findings": [5, 3],
            "findings_done": [2, 1],
            "findings_basically_done": [1, 0],
            "findings_open": [2, 2],
            "completion_rate": [40.0, 33.3],
            "repeat_findings": [0, 1],
            "repeat_rate": [0.0, 33.3],
            "rebound_rate": [0.0, 0.0],
        }
    )
    done, _basic, open_, line = charts.findings_and_completion_by_round(rounds).data
    assert [charts.clicked_status({"customdata": c}) for c in open_.customdata] == ["OPEN"] * 2
    assert [charts.clicked_group({"customdata": c}) for c in done.customdata] == ["11", "12"]
    assert charts.clicked_status({"customdata": line.customdata[0]}) is None
    repeats, repeat_rate, rebound_rate = charts.repeat_trend(rounds).data
    assert charts.clicked_status({"customdata": repeats.customdata[1]}) == "repeat"
    assert charts.clicked_status({"customdata": rebound_rate.customdata[1]}) == "rebound"
    assert charts.clicked_group({"customdata": repeat_rate.customdata[1]}) == "12"

    common = pl.DataFrame(
        {
            "category_l2": ["B01", "C01"],
            "l2_name": ["形式主义", "班子建设"],
            "units_found": [3, 5],
            "units_inspected": [8, 8],
            "threshold": [3, 3],
        }
    )
    spec = charts.common_problem_bars(common).to_dict()
    assert list(spec["layout"]["yaxis"]["ticktext"]) == ["形式主义", "班子建设"]
    trace = spec["data"][0]
    assert [charts.clicked_group({"customdata": c}) for c in trace["customdata"]] == [
        "B01",
        "C01",
    ]
    assert "%{customdata[1]}" in trace["hovertemplate"]


# -- clicks on the pages ---------------------------------------------------------------------


def test_a_clicked_heatmap_cell_lists_the_findings_of_that_unit_and_category(
    demo: tuple[Reader, Scope],
) -> None:
    reader, scope = demo
    cells = reader.query("findings_by_unit_category", scope.params(level=1))
    cell = cells.filter(pl.col("findings") > 0).sort("findings").row(0, named=True)
    at = clicked_on(
        "pages/distribution.py",
        dist_heatmap=bar([str(cell["unit_id"]), cell["category"], "x", "x", cell["findings"]]),
    )
    shown = drilled(at, "dist_heatmap_drill")
    want = detail(reader, scope, unit_id=cell["unit_id"], category=cell["category"])
    assert sorted(shown["问题编号"].to_list()) == sorted(want["finding_id"].to_list())
    assert shown.height == cell["findings"]  # the number in the cell
    assert set(unit_names(shown["单位"])) == {cell["unit_name"]}
    assert headings(at) == [f"##### {cell['unit_name']}｜{cell['category_name']} 的问题"]
    assert says_total(at, cell["findings"])


def test_a_clicked_treemap_tile_lists_the_findings_of_that_category(
    demo: tuple[Reader, Scope],
) -> None:
    reader, scope = demo
    by_cat = reader.query("findings_by_category", scope.params())
    tile = by_cat.sort("findings").row(0, named=True)
    code = tile["category_l2"]
    at = clicked_on(
        "pages/distribution.py",
        dist_treemap=selection(
            {"id": f"L2-{code}", "parent": f"L1-{tile['category_l1']}", "label": "x"}
        ),
    )
    shown = drilled(at, "dist_treemap_drill")
    want = detail(reader, scope, category=code)
    assert sorted(shown["问题编号"].to_list()) == sorted(want["finding_id"].to_list())
    assert shown.height == tile["findings"]
    assert set(shown["二级类别"]) == {code}
    # A level-1 tile: all its level-2 categories.
    l1 = tile["category_l1"]
    at = clicked_on(
        "pages/distribution.py", dist_treemap=selection({"id": f"L1-{l1}", "parent": ""})
    )
    l1_total = int(by_cat.filter(pl.col("category_l1") == l1)["findings"].sum())
    assert drilled(at, "dist_treemap_drill").height == l1_total
    assert says_total(at, l1_total)


def test_a_clicked_peer_group_bar_lists_the_findings_of_that_group(
    demo: tuple[Reader, Scope],
) -> None:
    reader, scope = demo
    peers = figures.findings_density(
        reader.query("findings_by_peer_group", scope.params()), "peer_group"
    )
    group = peers.sort("findings").row(0, named=True)
    at = clicked_on(
        "pages/distribution.py",
        dist_peer=bar([group["inspections"], group["findings"], 1, group["peer_group"]]),
    )
    shown = drilled(at, "dist_peer_drill")
    peer_scope = resolve_scope(reader, Filters(as_of=AS_OF, peer_groups=(group["peer_group"],)))
    want = detail(reader, peer_scope)
    assert sorted(shown["问题编号"].to_list()) == sorted(want["finding_id"].to_list())
    assert shown.height == group["findings"]


@pytest.mark.parametrize(
    ("page", "key", "status", "column", "label"),
    [
        ("pages/overview.py", "overview_by_round", "OPEN", "findings_open", "未完成"),
        ("pages/progress.py", "progress_round_chart", "DONE", "findings_done", "已完成"),
        ("pages/progress.py", "progress_round_chart", "", "findings", None),
    ],
)
def test_a_clicked_round_bar_lists_the_findings_of_that_round_and_status(
    demo: tuple[Reader, Scope], page: str, key: str, status: str, column: str, label: str | None
) -> None:
    reader, scope = demo
    by_round = figures.rectification(reader, scope, "round", cycle_median=False)
    row = by_round.filter(pl.col(column) > 0).sort(column).row(0, named=True)
    at = clicked_on(page, **{key: bar([status, row["group_id"]])})
    shown = drilled(at, f"{key}_drill")
    assert shown.height == row[column]  # the bar's height (the line: the round's findings)
    assert says_total(at, row[column])
    want = detail(reader, round_scope(reader, row["group_order"]))
    if status:
        want = want.filter(pl.col("status") == status)
        assert set(shown["状态"]) == {label}
    assert sorted(shown["问题编号"].to_list()) == sorted(want["finding_id"].to_list())
    assert set(shown["轮次"]) == {row["group_key"]}


@pytest.mark.parametrize(
    ("kind", "column", "flag"),
    [("repeat", "repeat_findings", "is_repeat"), ("rebound", "rebound_findings", "is_rebound")],
)
def test_a_clicked_repeat_trend_point_lists_the_repeat_or_rebound_findings_of_that_round(
    demo: tuple[Reader, Scope], kind: str, column: str, flag: str
) -> None:
    reader, scope = demo
    by_round = figures.rectification(reader, scope, "round", cycle_median=False)
    row = by_round.filter(pl.col(column) > 0).sort(column).row(0, named=True)
    at = clicked_on("pages/repeats.py", repeats_trend=bar([kind, row["group_id"]]))
    shown = drilled(at, "repeats_trend_drill")
    assert shown.height == row[column]
    want = detail(reader, round_scope(reader, row["group_order"])).filter(pl.col(flag))
    assert sorted(shown["问题编号"].to_list()) == sorted(want["finding_id"].to_list())


def test_a_clicked_common_problem_bar_lists_that_category_in_that_round(
    demo: tuple[Reader, Scope],
) -> None:
    reader, scope = demo
    at = clicked_on("pages/repeats.py")
    chosen = at.selectbox(key="repeats_common_round").value
    rounds = reader.query("rounds_list")
    seq = int(rounds.filter(pl.col("name") == chosen)["seq"][0])
    part = figures.common_problems(reader, scope, round_from=seq, round_to=seq)
    problem = part.sort("findings").row(0, named=True)
    at = clicked_on(
        "pages/repeats.py",
        repeats_common_chart=bar([problem["l2_name"], problem["category_l2"]]),
    )
    shown = drilled(at, "repeats_common_chart_drill")
    assert shown.height == problem["findings"]
    assert set(shown["轮次"]) == {chosen} and set(shown["二级类别"]) == {problem["category_l2"]}


def test_only_the_chart_clicked_last_shows_its_findings(demo: tuple[Reader, Scope]) -> None:
    reader, scope = demo
    by_cat = reader.query("findings_by_category", scope.params())
    code = by_cat.sort("findings").row(0, named=True)["category_l2"]
    tile = selection({"id": f"L2-{code}", "parent": "x"})
    peers = figures.findings_density(
        reader.query("findings_by_peer_group", scope.params()), "peer_group"
    )
    peer = bar([1, 1, 1, peers["peer_group"][0]])
    # The treemap clicked after the peer chart: only its list shows (the other is still
    # selected, as Streamlit keeps a chart's selection).
    at = clicked_on(
        "pages/distribution.py", dist_treemap=tile, dist_peer=peer, **{LAST_CLICKED: "dist_treemap"}
    )
    assert headings(at) == [f"##### {by_cat.sort('findings')['l2_name'][0]} 的问题"]
    at = clicked_on(
        "pages/distribution.py", dist_treemap=tile, dist_peer=peer, **{LAST_CLICKED: "dist_peer"}
    )
    assert headings(at) == [f"##### 同类组“{peers['peer_group'][0]}”的问题"]


def test_the_search_is_a_tab_at_the_top_and_the_lists_show_their_key_columns(
    demo: tuple[Reader, Scope],
) -> None:
    reader, scope = demo
    at = clicked_on("pages/distribution.py")
    assert [t.label for t in at.tabs][:2] == ["分布与下钻", "关键词检索"]
    assert at.tabs[1].text_input(key="dist_search") is not None
    at = clicked_on("pages/progress.py")
    table = next(f.value for f in at.dataframe if "延期天数" in f.value.columns)
    assert list(table.columns[:3]) == ["单位", "原定时限", "现行时限"]
    at = clicked_on("pages/overview.py")
    overdue = reader.query("measures_supervision", scope.params(kinds=["红"], limit=15))
    red = reader.query("measures_supervision_counts", scope.params())["red"][0]
    said = f"逾期天数最多的 {overdue.height} 条；逾期（红色预警）措施共 {red:,} 条"
    assert any(c.value.startswith(said) for c in at.caption)
