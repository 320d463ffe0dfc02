"""Every page renders in AppTest on the fixture store, and its numbers equal `xuncha metrics`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import AS_OF
from xuncha import cli
from xuncha.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = {"pages/overview.py": "总览", "pages/distribution.py": "问题分布"}


@pytest.fixture()
def app_env(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("XUNCHA_DB", str(demo_store.root))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield demo_store
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"asof": AS_OF.isoformat(), **query})
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(capsys: Any, store: Store, *extra: str) -> dict[str, Any]:
    assert cli.main(["metrics", "--db", str(store.root), "--as-of", AS_OF.isoformat(), *extra]) == 0
    return json.loads(capsys.readouterr().out)


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
    at = open_page("pages/overview.py", peer="国有企业", l1="B,C")
    assert at.sidebar.multiselect(key="f_peer").value == ["国有企业"]
    assert at.sidebar.multiselect(key="f_l1").value == ["B", "C"]
    filters = at.session_state["filters"]
    assert filters.peer_groups == ("国有企业",) and filters.category_l1 == ("B", "C")
    assert at.query_params["peer"] == "国有企业" and at.query_params["l1"] == "B,C"


def test_values_in_the_url_that_do_not_exist_are_dropped_not_guessed(app_env: Store) -> None:
    at = open_page("pages/overview.py", peer="不存在", unit="99999", rounds="x-y", sector="财政")
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
    assert set(detail["单位"]) == {unit_name}
    assert any(f"共 {expected['findings']:,} 个问题" in c.value for c in at.caption)
