"""数据查询 for leaders (issue 21 items 5 and 11): the canned queries are offered in Chinese and
answer as the pages do (某单位逾期措施, 本轮共性问题, 反弹单位名单 against xuncha.figures);
a count in the sandbox as of a past date equals the 总览's for that date; engine errors are
explained in Chinese with the closest name, the engine's text kept as the detail."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import polars as pl
import pytest

from xuncha import figures
from xuncha.filters import Filters, resolve_scope
from xuncha.sandbox import Sandbox, SandboxProblem, SandboxRefused, canned
from xuncha.sandbox.explain import explain
from xuncha.store import Store, open_reader
from xuncha.store.reader import load_queries

PAST = dt.date(2024, 6, 30)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def reader(demo_store: Store) -> Iterator[object]:
    r = open_reader(demo_store)
    yield r
    r.close()


@pytest.fixture(scope="module")
def past_scope(reader):  # type: ignore[no-untyped-def]
    return resolve_scope(reader, Filters(as_of=PAST))


@pytest.fixture(scope="module")
def box(demo_store: Store, past_scope) -> Iterator[Sandbox]:  # type: ignore[no-untyped-def]
    sandbox = Sandbox.for_scope(demo_store, past_scope, clue_details=False, cache=False)
    yield sandbox
    sandbox.close()


def _run(box: Sandbox, name: str, scope, **values) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """A canned query as the page runs it: the register's defaults and binding, the scope."""
    entry = canned.BY_NAME[name]
    named = load_queries()[name]
    bound = entry.bind({**canned.default_values(entry, scope.as_of), **values})
    bound.update(
        inspection_ids=list(scope.inspection_ids),
        category_l1=None,
        category_l2=None,
        current=scope.settled_on is not None and scope.as_of >= scope.settled_on,
    )
    params = {k: v for k, v in bound.items() if k in named.params}
    return box.run(named.sql, user="测试", params=params, max_rows=100_000).frame


def test_every_offered_query_exists_and_reads_in_chinese() -> None:
    queries = load_queries()
    titles = {c.title for c in canned.CANNED}
    assert {"某单位逾期措施", "本轮共性问题", "反弹单位名单"} <= titles
    for entry in canned.CANNED:
        assert entry.name in queries, entry.name
        assert CJK.search(entry.title) and CJK.search(entry.description)
        named = queries[entry.name]
        # Every parameter is bound: by the page (scope) or by a field with a Chinese label.
        fields = set(entry.bind(canned.default_values(entry, PAST)))
        assert set(named.params) <= fields | canned.SCOPE_PARAMS, entry.name
        for spec in entry.fields.values():
            assert CJK.search(spec.label), (entry.name, spec.label)


def test_a_count_in_the_sandbox_as_of_a_past_date_equals_the_overview(
    reader, box: Sandbox, past_scope
) -> None:  # type: ignore[no-untyped-def]
    overview = figures.overview(reader, past_scope)
    sql = f"SELECT count(*) AS n FROM finding_at(DATE '{PAST.isoformat()}', NULL, NULL, NULL)"
    assert int(box.run(sql, user="测试").frame["n"][0]) == overview["findings"]
    # The plain tables hold today's data: more findings than were fed back by then.
    today = int(box.run("SELECT count(*) AS n FROM findings", user="测试").frame["n"][0])
    assert today > overview["findings"]
    kpi = _run(box, "kpi_overview", past_scope)
    assert int(kpi["inspections"][0]) == overview["inspections"]


def test_unit_overdue_measures_equal_the_overdue_figure_of_each_unit(
    reader, box: Sandbox, past_scope
) -> None:  # type: ignore[no-untyped-def]
    by_unit = figures.rectification(reader, past_scope, "unit", cycle_median=False)
    expected = {
        int(g): int(n)
        for g, n in by_unit.select("group_id", "overdue_measures").rows()
        if int(n) > 0
    }
    assert expected, "the demo has overdue measures on the date"
    every = _run(box, "unit_overdue_measures", past_scope)
    assert every.height == sum(expected.values())
    unit_id, count = max(expected.items(), key=lambda kv: kv[1])
    one = _run(box, "unit_overdue_measures", past_scope, unit_id=unit_id)
    assert one.height == count
    assert (one["days_overdue"] > 0).all()


def test_rebound_units_equal_the_rebound_figures_by_unit(reader, box: Sandbox, past_scope) -> None:  # type: ignore[no-untyped-def]
    by_unit = figures.rectification(reader, past_scope, "unit", cycle_median=False)
    expected = {
        int(g): (int(n), round(float(r), 2))
        for g, n, r in by_unit.select("group_id", "rebound_findings", "rebound_rate").rows()
        if int(n) > 0
    }
    got = _run(box, "rebound_units", past_scope)
    assert expected
    assert {
        int(u): (int(n), round(float(r), 2))
        for u, n, r in got.select("unit_id", "rebound_findings", "rebound_rate").rows()
    } == expected


def test_common_problems_of_a_round_equal_the_repeats_page(
    reader, box: Sandbox, past_scope
) -> None:  # type: ignore[no-untyped-def]
    common = figures.common_problems(reader, past_scope)
    assert common.height > 0
    seq = int(common["seq"].max())
    expected = sorted(common.filter(pl.col("seq") == seq)["category_l2"].to_list())
    got = _run(box, "common_problems", past_scope, round=seq)
    assert sorted(got["category_l2"].to_list()) == expected


def _problem(box: Sandbox, sql: str) -> SandboxProblem:
    with pytest.raises(SandboxProblem) as caught:
        box.run(sql, user="测试")
    return caught.value


def test_engine_errors_are_explained_in_chinese_with_the_engine_text_kept(box: Sandbox) -> None:
    wrong_table = _problem(box, "SELECT * FROM finding")
    assert "没有名为“finding”的表" in wrong_table.message
    assert "“findings”" in wrong_table.message
    assert wrong_table.detail and "Catalog Error" in wrong_table.detail
    assert "Error" not in wrong_table.message

    wrong_column = _problem(box, "SELECT findng_id FROM findings")
    assert "没有名为“findng_id”的列" in wrong_column.message
    assert "“finding_id”" in wrong_column.message
    assert wrong_column.detail and "Binder Error" in wrong_column.detail

    syntax = _problem(box, "SELEC 1")
    assert syntax.message.startswith("SQL 语法错误") and "SELEC" in syntax.message
    assert "Parser Error" in (syntax.detail or "")

    grouped = _problem(box, "SELECT unit_id, count(*) FROM findings")
    assert "GROUP BY" in grouped.message and CJK.search(grouped.message)

    two = _problem(box, "SELECT 1; SELECT 2")
    assert isinstance(two, SandboxRefused) and "一次只能执行一条语句" in two.message
    forbidden = _problem(box, "DELETE FROM findings")
    assert isinstance(forbidden, SandboxRefused) and "不允许" in forbidden.message


def test_the_explanations_name_timeouts_and_conversions_in_chinese() -> None:
    text = "Conversion Error: Could not convert string 'abc' to INT32\n\nLINE 1: SELECT 'abc'::int"
    said = explain("conversion", text)
    assert "无法把“abc”转换为整数" in said and "第 1 行" in said
    assert (
        explain(
            "catalog", "Catalog Error: Table with name fidings does not exist!", tables=["findings"]
        ).count("findings")
        == 1
    )


def test_timeouts_and_memory_are_said_in_chinese(demo_store: Store, past_scope) -> None:  # type: ignore[no-untyped-def]
    quick = Sandbox.for_scope(demo_store, past_scope, clue_details=False, timeout=1, cache=False)
    try:
        slow = _problem(
            quick,
            "SELECT count(*) FROM range(100000000000) a, range(1000) b WHERE a.range % 7 = b.range",
        )
        assert "时间上限" in slow.message
        big = _problem(quick, "SELECT length(repeat('x', 1500000000)) AS n")
        assert "内存上限" in big.message
    finally:
        quick.close()
