"""The 数据查询 page in AppTest: a query runs in the sandbox, refusals are shown, the schema
browser and the canned queries work, and every query lands in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import copy_store, plain_demo
from xuncha import audit
from xuncha.sandbox import clear_cache
from xuncha.store import Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture()
def sql_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Any
) -> Iterator[Store]:
    # Its own store: the page writes to the store's audit trail.
    store = copy_store(store_template("demo", plain_demo), tmp_path / "store")
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    st.cache_data.clear()
    st.cache_resource.clear()
    clear_cache()
    yield store
    clear_cache()
    st.cache_data.clear()
    st.cache_resource.clear()


def _open(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    # Through app.py (its sidebar sets the filters from the URL), then to the page.
    at.query_params.update({"asof": "2026-11-20", **query})
    at.run()
    at.switch_page("pages/sql_console.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_query_runs_in_the_sandbox_and_is_audited(sql_store: Store) -> None:
    at = _open()
    at.text_area(key="sql_text").set_value(
        "SELECT category_l1, count(*) AS n FROM findings GROUP BY ALL ORDER BY category_l1"
    )
    at.button(key="sql_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [d.value for d in at.dataframe if "n" in d.value.columns]
    assert tables and list(tables[0]["category_l1"]) == ["A", "B", "C", "D", "Z"]
    entries = audit.entries(sql_store.root)
    assert entries and entries[-1].action == "sql_query"
    assert "GROUP BY ALL" in str(entries[-1].details.get("sql"))
    assert audit.verify(sql_store.root) == []


def test_a_query_runs_once_per_click_not_on_every_rerun(sql_store: Store) -> None:
    """Reruns of the page (a tab opened, a field typed in) show the kept result; the query runs
    and is audited again only when 运行查询 is clicked again."""
    at = _open()
    at.text_area(key="sql_text").set_value("SELECT count(*) AS n FROM findings")
    at.button(key="sql_run").click().run()

    def queries() -> int:
        return sum(1 for e in audit.entries(sql_store.root) if e.action == "sql_query")

    def shown() -> list[int]:
        return [int(d.value["n"][0]) for d in at.dataframe if list(d.value.columns) == ["n"]]

    assert queries() == 1 and len(shown()) == 1 and shown()[0] > 0
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert queries() == 1  # not run again
    assert len(shown()) == 1  # still shown
    at.button(key="sql_run").click().run()
    assert queries() == 2
    assert audit.verify(sql_store.root) == []


def test_a_forbidden_statement_is_refused_with_a_chinese_message(sql_store: Store) -> None:
    at = _open()
    at.text_area(key="sql_text").set_value("SELECT 1; DROP TABLE findings")
    at.button(key="sql_run").click().run()
    assert not at.exception
    assert at.error and any("\u4e00" <= ch <= "\u9fff" for ch in at.error[0].value)
    assert audit.entries(sql_store.root)[-1].action == "sql_refused"


def test_the_sandbox_holds_only_the_filtered_rounds(sql_store: Store) -> None:
    at = _open(rounds="5-5")
    at.text_area(key="sql_text").set_value(
        "SELECT count(DISTINCT round_id) AS rounds, min(round_id) AS lo FROM findings"
    )
    at.button(key="sql_run").click().run()
    tables = [d.value for d in at.dataframe if "rounds" in d.value.columns]
    assert tables and int(tables[0]["rounds"][0]) == 1 and int(tables[0]["lo"][0]) == 5


def test_the_schema_browser_lists_tables_with_chinese_comments(sql_store: Store) -> None:
    at = _open()
    labels = [e.label for e in at.expander]
    assert any(label.startswith("findings — ") for label in labels)
    assert not any(label.startswith(("import_batches", "batch_changes")) for label in labels)


def test_a_canned_query_runs_with_its_parameters_as_fields(sql_store: Store) -> None:
    at = _open()
    at.selectbox(key="canned_name").set_value("rectification_counts").run()
    at.selectbox(key="canned_rectification_counts_by").set_value("round")
    at.button(key="canned_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [
        d.value for d in at.dataframe if "分组" in d.value.columns or "group_key" in d.value.columns
    ]
    assert tables and len(tables[0]) == 9


def test_a_query_past_the_memory_limit_is_stopped_audited_and_shown_as_such(
    sql_store: Store,
) -> None:
    """The attack of issue 17 on the page: a 1.5 GB string against the 1 GB limit stops at
    once in its query process, the page says why, the audit and the history say 超出内存."""
    at = _open()
    at.text_area(key="sql_text").set_value("SELECT length(repeat('x', 1500000000)) AS n")
    at.button(key="sql_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and "超出内存上限（1GB）" in at.error[0].value
    last = audit.entries(sql_store.root)[-1]
    assert last.action == "sql_query" and last.details["outcome"] == "out_of_memory"
    assert last.details["duration_ms"] < 15_000
    history = [d.value for d in at.dataframe if "结果" in d.value.columns]
    assert history and history[0]["结果"].iloc[0] == "超出内存"


def test_the_example_query_runs_over_the_vocabulary(sql_store: Store, whole_tables: None) -> None:
    """The text the page opens with is a query a user can run as it stands: over finding_at
    (the vocabulary the sandbox holds), one row per unit, every finding counted once."""
    at = _open()
    at.button(key="sql_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [d.value for d in at.dataframe if "问题数" in d.value.columns]
    assert tables and list(tables[0].columns) == ["单位", "问题数", "完成率"]
    con = sql_store.connect()
    try:
        (total,) = con.execute(
            "SELECT count(*) FROM finding_timeline WHERE valid_from <= current_date"
            " AND (valid_to IS NULL OR valid_to > current_date)"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert int(tables[0]["问题数"].sum()) == total > 0


def test_the_page_says_its_tables_are_current_and_canned_queries_follow_the_date(
    sql_store: Store,
) -> None:
    """Issue 21 item 11: the header and every result say what date they answer for."""
    at = _open(asof="2024-06-30")
    assert any("不随侧栏的“统计截至”（2024-06-30）回溯" in i.value for i in at.info)
    assert "DATE '2024-06-30'" in at.text_area(key="sql_text").value
    at.button(key="sql_run").click().run()
    assert any("来自当前数据" in c.value for c in at.caption)
    at.selectbox(key="canned_name").set_value("rebound_units").run()
    assert at.date_input(key="canned_rebound_units_as_of").value.isoformat() == "2024-06-30"
    at.button(key="canned_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("按 2024-06-30 的状态和时限计算" in c.value for c in at.caption)
    shown = [d.value for d in at.dataframe if "反弹率(%)" in d.value.columns]
    assert shown and not any(c.endswith("_id") for c in shown[0].columns)


def test_an_engine_error_is_explained_in_chinese_with_the_engine_text_below(
    sql_store: Store,
) -> None:
    at = _open()
    at.text_area(key="sql_text").set_value("SELECT findng_id FROM findings")
    at.button(key="sql_run").click().run()
    assert at.error and "没有名为“findng_id”的列" in at.error[0].value
    assert "finding_id" in at.error[0].value and "Error" not in at.error[0].value
    assert any("Binder Error" in c.value for c in at.code)


def test_the_unit_field_of_a_canned_query_searches_among_many_units(
    sql_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the picker's threshold the 单位 field sends a few searched units, not all; the
    unit found by its name is among them, stays chosen and the query runs with it."""
    from xuncha.ui import unit_picker

    monkeypatch.setattr(unit_picker, "PICKER_LIST_ALL", 10)
    monkeypatch.setattr(unit_picker, "PICKER_CAP", 5)
    at = _open()
    at.selectbox(key="canned_name").set_value("unit_overdue_measures").run()
    field = at.selectbox(key="canned_unit_overdue_measures_unit_id")
    assert field.options[0] == "全部单位" and len(field.options) == 1 + 5
    names = unit_picker_names(sql_store)
    last_id, last_name = list(names.items())[-1]
    assert last_name not in field.options
    at.text_input(key="canned_unit_overdue_measures_unit_id_search").input(last_name).run()
    field = at.selectbox(key="canned_unit_overdue_measures_unit_id")
    assert last_name in field.options and len(field.options) <= 1 + 5
    field.set_value(last_id)
    at.button(key="canned_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="canned_unit_overdue_measures_unit_id").value == last_id


def unit_picker_names(store: Store) -> dict[int, str]:
    """The units of the store's inspections by short name, in the field's order."""
    reader = open_reader(store)
    try:
        pairs = reader.query("inspections_list").select("unit_id", "short_name").unique()
    finally:
        reader.close()
    pairs = pairs.sort("short_name")
    return dict(zip(pairs["unit_id"].to_list(), pairs["short_name"].to_list(), strict=True))
