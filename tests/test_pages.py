"""Every page renders in AppTest on the fixture store, and its numbers equal `xuncha metrics`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.builders import unit_names
from tests.conftest import AS_OF
from xuncha import cli
from xuncha.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# The first screen after sign-in, served at "/" (app.py's default page).
DEFAULT_PAGE = "pages/attention.py"
PAGES = {
    "pages/overview.py": "总览",
    "pages/distribution.py": "问题分布",
    "pages/progress.py": "整改进度",
    "pages/repeats.py": "屡查屡犯",
}


@pytest.fixture(autouse=True)
def whole_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests compare a table's rows with the figures, not its paging (test_send_less
    pages): every row on one page."""
    from xuncha.ui import widgets

    monkeypatch.setattr(widgets, "TABLE_PAGE_ROWS", 1_000_000)


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"asof": AS_OF.isoformat(), **query})
    at.run()
    if page != DEFAULT_PAGE:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(capsys: Any, store: Store, *extra: str) -> dict[str, Any]:
    assert cli.main(["metrics", "--db", str(store.root), "--as-of", AS_OF.isoformat(), *extra]) == 0
    return json.loads(capsys.readouterr().out)


def table_with(at: AppTest, *columns: str) -> Any:
    """The first table on the page having these Chinese headers (tables without selection
    are not widgets, so AppTest cannot find them by key)."""
    for frame in at.dataframe:
        value = frame.value
        if set(columns) <= set(value.columns):
            return value
    raise AssertionError(f"no table with columns {columns}")


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_in_chinese_without_exception(app_env: Store, page: str) -> None:
    at = open_page(page)
    assert at.title[0].value == PAGES[page]
    assert at.get("plotly_chart"), "no chart drawn"
    assert any("统计截至 2026-11-20" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("query", "cli_args"),
    [
        ({}, []),
        ({"rounds": "5-5"}, ["--round", "十四届市委第三轮巡察"]),
        ({"l1": "B"}, ["--category", "B"]),
        ({"unit": "1"}, ["--unit", "{unit1}"]),
    ],
)
def test_the_overview_numbers_equal_xuncha_metrics_for_the_same_filters(
    app_env: Store, capsys: Any, query: dict[str, str], cli_args: list[str]
) -> None:
    at = open_page("pages/overview.py", **query)
    unit1 = at.session_state["filters_text"] if query.get("unit") else ""
    args = [a.format(unit1=unit1.removeprefix("单位 ")) for a in cli_args]
    expected = metrics(capsys, app_env, *args)
    shown = metric_values(at)
    assert shown["发现问题"] == f"{expected['findings']:,}"
    assert shown["整改措施"] == f"{expected['measures']:,}"
    assert shown["整改完成率"] == f"{expected['completion_rate']:.2f}%"
    assert shown["逾期措施"] == f"{expected['overdue_measures']:,}"
    assert shown["长期坚持措施"] == f"{expected['measures_long_term']:,}"


def test_the_overview_round_table_equals_metrics_by_round(app_env: Store, capsys: Any) -> None:
    at = open_page("pages/overview.py")
    table = at.dataframe[0].value
    expected = metrics(capsys, app_env, "--by", "round")
    assert list(table["轮次"]) == [r["round"] for r in expected]
    assert list(table["问题数"]) == [r["findings"] for r in expected]
    assert list(table["整改完成率(%)"]) == [r["completion_rate"] for r in expected]


def test_filters_from_the_url_set_the_sidebar_and_stay_in_the_url(app_env: Store) -> None:
    at = open_page(DEFAULT_PAGE, peer="国有企业", l1="B,C")
    assert at.sidebar.multiselect(key="f_peer").value == ["国有企业"]
    assert at.sidebar.multiselect(key="f_l1").value == ["B", "C"]
    filters = at.session_state["filters"]
    assert filters.peer_groups == ("国有企业",) and filters.category_l1 == ("B", "C")
    assert at.query_params["peer"] == "国有企业" and at.query_params["l1"] == "B,C"


def test_values_in_the_url_that_do_not_exist_are_dropped_not_guessed(app_env: Store) -> None:
    at = open_page(DEFAULT_PAGE, peer="不存在", unit="99999", rounds="x-y", sector="财政")
    assert at.sidebar.multiselect(key="f_peer").value == []
    assert at.sidebar.multiselect(key="f_unit").value == []
    # The URL is rewritten to what was actually applied.
    assert "peer" not in at.query_params and "unit" not in at.query_params
    assert at.query_params["sector"] == "财政"


def test_the_distribution_drill_down_lists_the_findings_of_a_unit(
    app_env: Store, capsys: Any
) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["dist_unit"] = 1
    at.run()
    at.switch_page("pages/distribution.py")
    at.run()
    assert not at.exception
    assert at.selectbox(key="dist_unit").value == 1
    unit_name = at.selectbox(key="dist_unit").format_func(1)  # type: ignore[attr-defined]
    expected = metrics(capsys, app_env, "--unit", unit_name)
    detail = at.dataframe(key="dist_detail").value
    assert len(detail) == expected["findings"]
    assert set(unit_names(detail["单位"])) == {unit_name}
    assert any(f"共 {expected['findings']:,} 个问题" in c.value for c in at.caption)


def test_the_progress_page_numbers_equal_xuncha_metrics(app_env: Store, capsys: Any) -> None:
    at = open_page("pages/progress.py", peer="市直部门")
    expected = metrics(capsys, app_env)  # URL filter peer=市直部门 below, recomputed here
    at_all = open_page("pages/progress.py")
    shown = metric_values(at_all)
    for label, key in (
        ("整改完成率", "completion_rate"),
        ("含基本完成的完成率", "completion_rate_lenient"),
        ("措施完成率", "measure_completion_rate"),
        ("按期完成率（原定时限）", "on_time_rate"),
        ("逾期率", "overdue_rate"),
    ):
        assert shown[label] == f"{expected[key]:.2f}%", label
    assert shown["整改周期中位数"] == f"{expected['cycle_days_median']:.1f} 天"
    # The peer-group view differs from the whole, so the page did apply its URL filter.
    assert (
        metric_values(at)["整改完成率"] != shown["整改完成率"]
        or metric_values(at)["措施完成率"] != shown["措施完成率"]
    )


def test_the_progress_unit_table_equals_metrics_by_unit(app_env: Store, capsys: Any) -> None:
    at = open_page("pages/progress.py")
    table = table_with(at, "单位", "整改完成率(%)", "样本")
    expected = {r["unit"]: r for r in metrics(capsys, app_env, "--by", "unit")}
    assert len(table) == len(expected)
    for _, row in table.iterrows():
        record = expected[unit_names([row["单位"]])[0]]
        assert row["问题数"] == record["findings"]
        assert row["整改完成率(%)"] == record["completion_rate"] or (
            record["completion_rate"] is None
        )
        assert (row["样本"] == "样本不足") == record["small_sample"]


def test_the_supervision_list_holds_only_open_dated_measures_with_their_colour(
    app_env: Store, capsys: Any
) -> None:
    at = open_page("pages/progress.py")
    listing = at.dataframe(key="progress_supervision").value
    expected = metrics(capsys, app_env)
    red = listing[listing["预警"] == "红"]
    assert len(red) == expected["overdue_measures"]
    assert (red["逾期天数（负数为剩余天数）"] > 0).all()
    assert set(listing["预警"]) <= {"红", "黄", "绿"}
    assert "已完成" not in set(listing["状态"])


def test_the_repeats_page_numbers_equal_xuncha_metrics(app_env: Store, capsys: Any) -> None:
    at = open_page("pages/repeats.py")
    expected = metrics(capsys, app_env)
    shown = metric_values(at)
    assert shown["重复问题"] == f"{expected['repeat_findings']:,}"
    assert shown["反弹问题（屡改屡犯）"] == f"{expected['rebound_findings']:,}"
    assert shown["重复率"] == f"{expected['repeat_rate']:.2f}%"
    assert shown["反弹率"] == f"{expected['rebound_rate']:.2f}%"
    units = table_with(at, "单位", "重复问题", "反弹问题", "重复率(%)")
    assert units["重复问题"].sum() == expected["repeat_findings"]
    assert units["反弹问题"].sum() == expected["rebound_findings"]


def test_the_repeats_page_lists_chains_common_problems_and_similar_texts(app_env: Store) -> None:
    at = open_page("pages/repeats.py")
    chains = at.dataframe(key="repeats_chains").value
    assert len(chains) > 0 and (chains["发现轮次数"] >= 2).all()
    assert chains["发现轮次（反弹标注）"].str.contains("（反弹）").any()
    common = at.dataframe(key="repeats_common_table").value
    assert len(common) > 0 and (common["发现单位数"] >= common["阈值 k"]).all()
    similar = at.dataframe(key="repeats_similar_table").value
    assert len(similar) > 0 and (similar["相似度"] >= 0.4).all()
    assert (similar["前轮类别"] != similar["后轮类别"]).all()


def test_a_page_asked_as_of_a_past_date_shows_the_figures_of_that_date(
    app_env: Store, capsys: Any
) -> None:
    at = open_page("pages/progress.py", asof="2024-06-30")
    assert cli.main(["metrics", "--db", str(app_env.root), "--as-of", "2024-06-30"]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert metric_values(at)["整改完成率"] == f"{expected['completion_rate']:.2f}%"
    assert any("统计截至 2024-06-30" in c.value for c in at.caption)


def unit_rows(store: Store) -> list[dict[str, Any]]:
    """Each unit's row of the by-unit rectification figures for the whole demo."""
    from xuncha import figures
    from xuncha.filters import Filters, resolve_scope
    from xuncha.store import open_reader

    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        rows = figures.rectification(reader, scope, "unit", cycle_median=False)
        return list(rows.sort("group_id").iter_rows(named=True))
    finally:
        reader.close()


def clicked(group_id: str, label: str) -> dict[str, Any]:
    """A click on one bar as Streamlit hands it back: the bar's label, its customdata."""
    point = {"curve_number": 0, "point_number": 0, "point_index": 0, "y": label}
    point["customdata"] = [group_id]
    return {"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}}


def test_a_clicked_bar_of_the_unit_ranking_opens_the_findings_of_that_unit(
    app_env: Store,
) -> None:
    """The unit is the bar's id, not its label: the label here is another unit's."""
    rows = unit_rows(app_env)
    unit, other = rows[0], rows[1]
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["asof"] = AS_OF.isoformat()
    at.run()
    at.session_state["progress_unit_chart"] = clicked(
        unit["group_id"], f"{other['group_key']}（n={other['findings']}）"
    )
    at.switch_page("pages/progress.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    headings = [m.value for m in at.markdown if m.value.startswith("##### ")]
    assert headings == [f"##### {unit['group_key']} 的问题"]
    assert any(f"共 {unit['findings']:,} 个问题" in c.value for c in at.caption)


def test_a_clicked_bar_of_the_top_units_drills_down_to_that_unit(app_env: Store) -> None:
    rows = sorted(unit_rows(app_env), key=lambda r: -r["findings"])
    unit, other = rows[0], rows[1]
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["asof"] = AS_OF.isoformat()
    at.run()
    at.session_state["dist_top_units"] = clicked(unit["group_id"], str(other["group_key"]))
    at.switch_page("pages/distribution.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="dist_unit").value == int(unit["group_id"])
    detail = at.dataframe(key="dist_detail").value
    assert set(unit_names(detail["单位"])) == {unit["group_key"]}
