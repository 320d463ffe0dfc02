"""The query sandbox: its settings proven one by one, legitimate analysis working, limits
holding (time, rows, memory), results as Polars frames, every query audited."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import duckdb
import polars as pl
import pytest

from xuncha import audit
from xuncha.filters import Filters, resolve_scope
from xuncha.sandbox import (
    DISPLAY_MAX_ROWS,
    EXPORT_MAX_ROWS,
    SETTINGS,
    Sandbox,
    SandboxError,
    SandboxRefused,
    SandboxTimeout,
    check_sql,
    exportable,
)
from xuncha.sandbox import build as sandbox_build
from xuncha.sandbox import core as sandbox_core
from xuncha.store import Store, open_reader

USER = "测试员"


@pytest.fixture(scope="module")
def full_scope(demo_store: Store):
    reader = open_reader(demo_store)
    try:
        return resolve_scope(reader, Filters())
    finally:
        reader.close()


@pytest.fixture(scope="module")
def box(demo_store: Store, full_scope) -> Iterator[Sandbox]:
    sandbox = Sandbox.for_scope(demo_store, full_scope, clue_details=False, cache=False)
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def quick_box(demo_store: Store, full_scope) -> Iterator[Sandbox]:
    """A sandbox with a one-second time limit, for runaway queries."""
    sandbox = Sandbox.for_scope(demo_store, full_scope, clue_details=False, timeout=1, cache=False)
    yield sandbox
    sandbox.close()


def settings_of(sandbox: Sandbox) -> dict[str, str]:
    frame = sandbox.run("SELECT name, value FROM duckdb_settings()", user=USER, max_rows=5000).frame
    return dict(frame.rows())


# -- the settings, each proven ------------------------------------------------------------


def test_every_setting_the_sandbox_relies_on_exists_in_this_duckdb() -> None:
    con = duckdb.connect(":memory:")
    try:
        for setting in SETTINGS:
            con.execute("SELECT current_setting(?)", [setting.name]).fetchone()
    finally:
        con.close()


def test_every_setting_is_documented_with_a_reason() -> None:
    assert all(s.why and s.stage in {"connect", "global"} for s in SETTINGS)
    assert SETTINGS[-1].name == "lock_configuration"  # locked last, after everything else


def test_the_settings_read_back_as_configured(box: Sandbox) -> None:
    shown = settings_of(box)
    for setting in SETTINGS:
        if setting.shown is not None:
            assert shown[setting.name] == setting.shown, setting.name
    assert shown["threads"] == "2"
    assert shown["max_execution_time"] == "17000"  # 15 s limit + 2 s backstop, in ms
    assert (
        shown["memory_limit"]
        != duckdb.connect(":memory:")
        .execute("SELECT current_setting('memory_limit')")
        .fetchone()[0]
    )


def test_the_database_is_read_only_so_a_write_hidden_in_a_with_clause_is_refused(
    box: Sandbox,
) -> None:
    before = box.run("SELECT count(*) FROM findings", user=USER).frame.item()
    with pytest.raises(SandboxRefused) as caught:
        box.run("WITH x AS (DELETE FROM findings RETURNING *) SELECT count(*) FROM x", user=USER)
    assert caught.value.reason == "read_only"
    assert box.run("SELECT count(*) FROM findings", user=USER).frame.item() == before


def test_python_variables_are_invisible_to_sql_replacement_scans_are_off(box: Sandbox) -> None:
    secret_frame = pl.DataFrame({"secret": ["机密"]})  # noqa: F841 - the point is that SQL cannot see it
    with pytest.raises(SandboxError) as caught:
        box.run("SELECT * FROM secret_frame", user=USER)
    assert caught.value.reason == "catalog"
    assert settings_of(box)["python_enable_replacements"] == "false"


def test_the_memory_limit_stops_a_blow_up_and_the_sandbox_still_answers(
    demo_store: Store, full_scope
) -> None:
    small = Sandbox.for_scope(
        demo_store, full_scope, clue_details=False, memory_limit="64MB", cache=False
    )
    try:
        with pytest.raises(SandboxError) as caught:
            small.run(
                "SELECT count(DISTINCT s) FROM "
                "(SELECT range::VARCHAR || repeat('x', 100) AS s FROM range(3000000))",
                user=USER,
            )
        assert caught.value.reason == "out_of_memory"
        assert caught.value.outcome == "out_of_memory"  # audited as such, not as "error"
        assert "内存上限（64MB）" in caught.value.message
        assert small.run("SELECT count(*) FROM findings", user=USER).frame.item() > 0
        # Nothing spilled to disk: there is no temporary directory to spill to.
        assert (
            small.run("SELECT count(*) FROM duckdb_temporary_files()", user=USER).frame.item() == 0
        )
    finally:
        small.close()


def test_settings_are_locked_even_against_table_functions_that_change_them(box: Sandbox) -> None:
    for sql in (
        "SELECT * FROM enable_logging()",
        "SELECT * FROM enable_profiling()",
        "SELECT * FROM add_grammar_extension('x')",
    ):
        with pytest.raises(SandboxRefused) as caught:
            box.run(sql, user=USER)
        assert caught.value.reason == "locked", sql
    assert settings_of(box)["lock_configuration"] == "true"


def test_the_engines_own_time_limit_stops_a_query_even_if_nobody_kills_it(
    demo_store: Store, full_scope, tmp_path
) -> None:
    """max_execution_time, in the options every query process opens the sandbox with
    (build.lockdown), is a second wall behind the kill at the time limit."""
    limits = sandbox_build.SandboxLimits(timeout=0.5)
    assert sandbox_build.lockdown(limits)["config"]["max_execution_time"] == 2500
    path = sandbox_build.build_file(
        demo_store,
        demo_store.version(),
        sandbox_build.SandboxScope.of(full_scope),
        clue_details=False,
        folder=tmp_path,
    )
    con = sandbox_build.open_locked(path, limits)  # as a query process opens it, no timer
    try:
        started = time.perf_counter()
        with pytest.raises(duckdb.InterruptException):
            con.execute("SELECT count(*) FROM range(100000000000)").fetchall()
        assert time.perf_counter() - started < 10  # 0.5 s + 2 s backstop, not forever
    finally:
        con.close()


def test_a_setting_that_did_not_take_stops_the_build(
    demo_store: Store, full_scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if a later DuckDB ignored the option: the value read back differs from the one wanted.
    wanted = sandbox_build.Setting("autoload_known_extensions", "connect", "x", "true")
    broken = (*sandbox_build.SETTINGS, wanted)
    monkeypatch.setattr(sandbox_build, "SETTINGS", broken)
    with pytest.raises(SandboxError) as caught:
        Sandbox.for_scope(demo_store, full_scope, clue_details=False, cache=False)
    assert caught.value.reason == "settings_not_applied"


def test_nothing_of_the_sandbox_is_left_on_disk(box: Sandbox) -> None:
    path = box.run(
        "SELECT path FROM duckdb_databases() WHERE database_name = 'xuncha'", user=USER
    ).frame.item()
    from pathlib import Path

    assert not Path(path).exists() and not Path(path).parent.exists()


# -- legitimate analysis ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM findings",
        "FROM findings SELECT category_l1, count(*) GROUP BY ALL",
        "WITH per_unit AS (SELECT unit_id, count(*) AS n FROM findings GROUP BY ALL)"
        " SELECT u.name, p.n FROM per_unit p JOIN units u USING (unit_id) ORDER BY p.n DESC",
        "SELECT f.finding_id, m.measure_id, m.status FROM findings f"
        " JOIN measures m USING (finding_id) JOIN inspections i USING (inspection_id)"
        " JOIN rounds r ON r.round_id = i.round_id WHERE r.seq >= 2",
        "SELECT unit_id, finding_id, row_number() OVER (PARTITION BY unit_id ORDER BY finding_id)"
        " AS rank_in_unit FROM findings QUALIFY rank_in_unit <= 2",
        "SELECT unit_id, count(*) FILTER (WHERE status = 'DONE') AS done, count(*) AS n"
        " FROM finding_timeline WHERE valid_from <= DATE '2026-11-20'"
        " AND (valid_to IS NULL OR valid_to > DATE '2026-11-20') GROUP BY ALL",
        "SELECT status, count(*) FROM measure_timeline WHERE valid_to IS NULL GROUP BY ALL",
        "SELECT count(*) FILTER (WHERE is_repeat), count(*) FILTER (WHERE is_rebound)"
        " FROM finding_repeats",
        "SELECT c.name, count(*) FROM findings f JOIN category_l2 c ON c.code = f.category_l2"
        " GROUP BY ALL ORDER BY 2 DESC LIMIT 5",
        "SELECT tag, count(*) FROM (SELECT unnest(tags) AS tag FROM findings) GROUP BY ALL",
        "DESCRIBE findings",
        "SUMMARIZE findings",
        "SHOW TABLES",
        "VALUES (1, 'a'), (2, 'b')",
        "TABLE rounds",
        "PIVOT findings ON category_l1 IN ('A', 'B') USING count(*) GROUP BY round_id",
        "SELECT ';DROP TABLE findings' AS text_with_a_semicolon",
        "SELECT 1; -- a trailing semicolon and comment",
        "SELECT * FROM query_table('units') LIMIT 3",
        "SELECT name, value FROM duckdb_settings() WHERE name = 'memory_limit'",
        "SELECT table_name, comment FROM duckdb_tables()",
        "SELECT * FROM clue_counts",
        "SELECT * FROM outcomes JOIN inspections USING (inspection_id)",
        "SELECT * FROM measure_status_history JOIN measure_deadline_history USING (measure_id)"
        " LIMIT 10",
    ],
)
def test_legitimate_analytic_queries_work(box: Sandbox, sql: str) -> None:
    result = box.run(sql, user=USER)
    assert isinstance(result.frame, pl.DataFrame)
    assert result.frame.height > 0
    assert result.columns == result.frame.columns


def test_describe_and_summarize_are_typed_as_queries_by_duckdb(box: Sandbox) -> None:
    con = duckdb.connect(":memory:")
    for sql in ("DESCRIBE findings", "SUMMARIZE findings", "SHOW TABLES", "FROM findings"):
        assert check_sql(con, sql) == "SELECT"
    described = box.run("DESCRIBE findings", user=USER).frame
    assert "finding_id" in described["column_name"].to_list()


def test_results_of_one_query_match_what_the_store_says(box: Sandbox, demo_store: Store) -> None:
    reader = open_reader(demo_store)
    try:
        expected = reader.scalar("SELECT count(*) FROM measures WHERE status = 'DONE'")
    finally:
        reader.close()
    got = box.run("SELECT count(*) AS n FROM measures WHERE status = 'DONE'", user=USER)
    assert got.frame.item() == expected and got.columns == ["n"] and got.types == ["BIGINT"]


def test_the_schema_browser_lists_tables_columns_types_chinese_comments_and_examples(
    box: Sandbox,
) -> None:
    schema = box.schema()
    assert schema.columns == ["table", "table_comment", "column", "type", "comment", "examples"]
    tables = schema["table"].unique(maintain_order=True).to_list()
    assert tables[:4] == ["rounds", "units", "inspections", "findings"]
    row = schema.filter((pl.col("table") == "findings") & (pl.col("column") == "title")).row(
        0, named=True
    )
    assert row["table_comment"] == "巡察发现的问题，每个问题一行"
    assert row["comment"] == "具体问题" and row["type"] == "VARCHAR"
    assert 1 <= len(row["examples"]) <= 3
    assert all(comment for comment in schema["comment"].to_list())
    assert box.tables() == tables


# -- limits -------------------------------------------------------------------------------


def test_results_for_display_stop_at_1000_rows_and_say_so(box: Sandbox) -> None:
    result = box.run("SELECT * FROM findings", user=USER)
    assert result.rows == DISPLAY_MAX_ROWS == 1000 and result.truncated
    assert result.note == "结果超过 1,000 行，仅显示前 1,000 行"
    whole = box.run("SELECT * FROM findings", user=USER, max_rows=EXPORT_MAX_ROWS)
    assert not whole.truncated and whole.rows > 1000 and whole.note is None


def test_a_huge_result_is_cut_without_being_materialised(box: Sandbox) -> None:
    started = time.perf_counter()
    result = box.run("SELECT range AS n FROM range(10000000000)", user=USER, max_rows=1000)
    assert result.rows == 1000 and result.truncated
    assert time.perf_counter() - started < 5


def test_exports_are_capped_at_one_excel_sheet(box: Sandbox) -> None:
    assert EXPORT_MAX_ROWS == 1_048_575
    with pytest.raises(ValueError):
        box.run("SELECT 1", user=USER, max_rows=EXPORT_MAX_ROWS + 1)


def test_a_runaway_recursion_is_stopped_by_the_time_limit(quick_box: Sandbox) -> None:
    started = time.perf_counter()
    with pytest.raises(SandboxTimeout) as caught:
        quick_box.run(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
            user=USER,
        )
    assert time.perf_counter() - started < 5
    assert caught.value.message.startswith("查询超过时间上限（1 秒）")
    assert quick_box.run("SELECT 42", user=USER).frame.item() == 42


def test_a_query_interrupted_while_its_rows_stream_is_a_timeout_too(quick_box: Sandbox) -> None:
    with pytest.raises(SandboxTimeout):
        quick_box.run(
            "SELECT range FROM range(100000000000) WHERE range % 1000000 = 0",
            user=USER,
            max_rows=EXPORT_MAX_ROWS,
        )
    assert quick_box.run("SELECT 1", user=USER).frame.item() == 1


def test_a_user_raised_error_is_not_mistaken_for_a_timeout(quick_box: Sandbox) -> None:
    with pytest.raises(SandboxError) as caught:
        quick_box.run("SELECT error('INTERRUPT Error: maximum execution time')", user=USER)
    assert not isinstance(caught.value, SandboxTimeout)


def test_a_cartesian_product_is_stopped_by_the_time_limit(quick_box: Sandbox) -> None:
    with pytest.raises(SandboxTimeout):
        quick_box.run(
            "SELECT count(*) FROM findings a, findings b, findings c WHERE a.title <> c.detail",
            user=USER,
        )
    assert quick_box.run("SELECT count(*) FROM units", user=USER).frame.item() > 0


def test_queries_run_concurrently_from_several_threads(box: Sandbox) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(box.run("SELECT count(*) FROM measures", user=USER).frame.item())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(results)) == 1 and len(results) == 6


# -- results ------------------------------------------------------------------------------


def test_named_queries_run_in_the_sandbox_with_bound_parameters(
    box: Sandbox, demo_store: Store, full_scope
) -> None:
    from xuncha.store.reader import load_queries

    named = load_queries()["findings_by_category"]
    # The inspections as a list (a scope of every inspection would pass NULL instead).
    params = {**full_scope.params(), "inspection_ids": list(full_scope.inspection_ids)}
    result = box.run(named.sql, user=USER, params=params)
    reader = open_reader(demo_store)
    try:
        expected = reader.query("findings_by_category", full_scope.params())
    finally:
        reader.close()
    assert result.frame.sort(result.frame.columns).equals(expected.sort(expected.columns))
    last = audit.entries(demo_store.root)[-1]
    assert last.details["params"]["as_of"] == full_scope.as_of.isoformat()
    assert last.details["params"]["inspection_ids"].startswith(
        f"<{len(full_scope.inspection_ids)} 个值"
    )


def test_a_parameter_is_a_value_never_sql(box: Sandbox) -> None:
    got = box.run("SELECT $x AS x", user=USER, params={"x": "1; DROP TABLE findings"})
    assert got.frame.item() == "1; DROP TABLE findings"
    assert box.run("SELECT count(*) FROM findings", user=USER).frame.item() > 0


def test_types_polars_cannot_hold_arrive_as_text_and_duplicate_names_are_made_unique(
    box: Sandbox,
) -> None:
    result = box.run(
        "SELECT INTERVAL 1 DAY AS i, union_value(k := 1) AS u, 1 AS a, 2 AS a", user=USER
    )
    assert result.frame.columns == ["i", "u", "a", "a_1"]
    assert result.frame.row(0) == ("1 day", "1", 1, 2)


def test_exportable_turns_nested_and_binary_values_into_text(box: Sandbox) -> None:
    frame = box.run(
        "SELECT {'a': 1} AS s, ['x', 'y'] AS l, '\\xAA'::BLOB AS b, [{'k': 1}] AS ls", user=USER
    ).frame
    out = exportable(frame)
    assert out.schema["s"] == pl.String and out.schema["b"] == pl.String
    assert out.schema["l"] == pl.List(pl.String) and out.schema["ls"] == pl.String


# -- errors -------------------------------------------------------------------------------


def test_errors_are_chinese_one_line_and_carry_the_engines_detail(box: Sandbox) -> None:
    with pytest.raises(SandboxError) as caught:
        box.run("SELEC 1", user=USER)
    assert caught.value.message.startswith("SQL 语法错误") and "\n" not in caught.value.message
    with pytest.raises(SandboxError) as caught:
        box.run("SELECT no_such_column FROM findings", user=USER)
    assert caught.value.reason == "binder" and "\n" not in caught.value.message
    assert caught.value.detail and "no_such_column" in caught.value.detail


def test_error_messages_never_show_the_store_path(box: Sandbox, demo_store: Store) -> None:
    store_file = str(demo_store.current_file())
    for sql in (
        f"SELECT * FROM read_blob('{store_file}')",
        f"SELECT * FROM '{store_file}'",
        f"ATTACH '{store_file}' AS s",
        "SELECT * FROM duckdb_extensions()",
    ):
        with pytest.raises((SandboxRefused, SandboxError)) as caught:
            box.run(sql, user=USER)
        for text in (caught.value.message, caught.value.detail or ""):
            assert str(demo_store.root) not in text, sql
            assert "/root" not in text and "/home" not in text, sql


# -- audit --------------------------------------------------------------------------------


def test_every_query_is_recorded_with_text_user_scope_rows_duration_and_outcome(
    box: Sandbox, demo_store: Store
) -> None:
    before = len(audit.entries(demo_store.root))
    box.run("SELECT count(*) FROM findings", user="李四", details={"page": "数据查询"})
    with pytest.raises(SandboxRefused):
        box.run("DROP TABLE findings", user="李四")
    with pytest.raises(SandboxError):
        box.run("SELECT nope", user="李四")
    records = audit.entries(demo_store.root)[before:]
    assert [r.action for r in records] == ["sql_query", "sql_refused", "sql_query"]
    ok, refused, failed = records
    assert ok.user == "李四" and ok.details["sql"] == "SELECT count(*) FROM findings"
    assert ok.details["outcome"] == "ok" and ok.details["rows"] == 1
    assert ok.details["scope_digest"] == box.scope.digest and ok.details["page"] == "数据查询"
    assert isinstance(ok.details["duration_ms"], int)
    assert refused.details["outcome"] == "refused"
    assert refused.details["reason"] == "statement_type:DROP"
    assert failed.details["outcome"] == "error" and failed.details["reason"] == "binder"
    assert audit.verify(demo_store.root) == []


def test_a_timeout_is_recorded_as_such(quick_box: Sandbox, demo_store: Store) -> None:
    with pytest.raises(SandboxTimeout):
        quick_box.run("SELECT count(*) FROM range(100000000000)", user="王五")
    last = audit.entries(demo_store.root)[-1]
    assert last.user == "王五" and last.details["outcome"] == "timeout"


def test_a_caller_cannot_overwrite_the_recorded_facts(box: Sandbox, demo_store: Store) -> None:
    box.run("SELECT 1", user=USER, details={"outcome": "nothing to see", "rows": 0, "x": 1})
    last = audit.entries(demo_store.root)[-1]
    assert last.details["outcome"] == "ok" and last.details["rows"] == 1 and last.details["x"] == 1


def test_an_oversized_query_is_recorded_by_a_prefix_and_its_hash(
    box: Sandbox, demo_store: Store
) -> None:
    huge = "SELECT 1 -- " + "x" * 30_000
    with pytest.raises(SandboxRefused):
        box.run(huge, user=USER)
    last = audit.entries(demo_store.root)[-1]
    assert last.details["reason"] == "too_long" and last.details["sql_chars"] == len(huge)
    assert len(last.details["sql"]) == 2000 and len(last.details["sql_sha256"]) == 64


def test_when_the_audit_trail_cannot_be_written_no_rows_are_returned(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise audit.AuditError("磁盘已满")

    monkeypatch.setattr(audit, "record", refuse)
    with pytest.raises(SandboxError) as caught:
        box.run("SELECT count(*) FROM findings", user=USER)
    assert caught.value.reason == "audit_failed"


# -- caching ------------------------------------------------------------------------------


def test_a_sandbox_is_cached_per_version_scope_and_clue_permission(
    demo_store: Store, full_scope
) -> None:
    sandbox_core.clear_cache()
    try:
        first = Sandbox.for_scope(demo_store, full_scope, clue_details=False)
        assert Sandbox.for_scope(demo_store, full_scope, clue_details=False) is first
        assert Sandbox.for_scope(demo_store, full_scope.inspection_ids, clue_details=False) is first
        assert Sandbox.for_scope(demo_store, full_scope, clue_details=True) is not first
        assert (
            Sandbox.for_scope(demo_store, full_scope.inspection_ids[:3], clue_details=False)
            is not first
        )
    finally:
        sandbox_core.clear_cache()


def test_a_scope_is_required(demo_store: Store) -> None:
    with pytest.raises(TypeError):
        Sandbox.for_scope(demo_store, None, clue_details=False)  # type: ignore[arg-type]
