"""Attacks on the query sandbox, each shown refused or contained.

"refused": SandboxRefused, before anything runs or at bind time (files, settings, writes).
"fails": the engine cannot do it at all (no such function or table; nothing was read).
After every attack the sandbox still answers and its data are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from xuncha.filters import Filters, resolve_scope
from xuncha.sandbox import Sandbox, SandboxError, SandboxRefused, SandboxTimeout
from xuncha.store import Store, open_reader

USER = "攻击者"
REFUSED = "refused"
FAILS = "fails"

# (name, SQL, outcome). {store_file}: the store's current version file; {store_dir}: the
# store directory; {sandbox_file}: the sandbox's own (unlinked) file, as duckdb_databases shows.
ATTACKS: list[tuple[str, str, str]] = [
    # reading files
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd')", REFUSED),
    ("read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", REFUSED),
    ("read_text", "SELECT * FROM read_text('/etc/passwd')", REFUSED),
    ("read_text_environ", "SELECT * FROM read_text('/proc/self/environ')", REFUSED),
    ("read_blob_store", "SELECT * FROM read_blob('{store_file}')", REFUSED),
    ("read_blob_own_file", "SELECT * FROM read_blob('{sandbox_file}')", REFUSED),
    ("read_parquet", "SELECT * FROM read_parquet('/tmp/x.parquet')", REFUSED),
    ("read_json", "SELECT * FROM read_json('/etc/passwd')", REFUSED),
    ("read_json_auto", "SELECT * FROM read_json_auto('{store_dir}/CURRENT')", REFUSED),
    ("read_ndjson_objects", "SELECT * FROM read_ndjson_objects('/etc/passwd')", REFUSED),
    ("read_duckdb_store", "SELECT * FROM read_duckdb('{store_file}')", REFUSED),
    ("path_as_table", "SELECT * FROM '/etc/passwd'", FAILS),
    ("store_path_as_table", "SELECT * FROM '{store_file}'", REFUSED),
    ("glob", "SELECT * FROM glob('/etc/*')", REFUSED),
    ("glob_store", "SELECT * FROM glob('{store_dir}/**')", REFUSED),
    ("sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", REFUSED),
    ("parquet_metadata", "SELECT * FROM parquet_metadata('/tmp/x.parquet')", REFUSED),
    ("http", "SELECT * FROM read_csv('https://example.com/x.csv')", REFUSED),
    ("s3_as_table", "SELECT * FROM 's3://bucket/x.parquet'", REFUSED),
    ("query_function", "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')", REFUSED),
    (
        "serialized_sql",
        "SELECT * FROM json_execute_serialized_sql("
        "json_serialize_sql('SELECT * FROM read_text(''/etc/passwd'')'))",
        REFUSED,
    ),
    ("indirect_call", "SELECT * FROM destroy_external_resource('read_text', '/etc/passwd')", FAILS),
    ("extensions_listing", "SELECT * FROM duckdb_extensions()", REFUSED),
    # writing files
    ("copy_to", "COPY findings TO '/tmp/stolen.csv'", REFUSED),
    (
        "copy_query_to",
        "COPY (SELECT * FROM findings) TO '/tmp/stolen.parquet' (FORMAT parquet)",
        REFUSED,
    ),
    ("copy_from", "COPY findings FROM '/etc/passwd'", REFUSED),
    ("export_database", "EXPORT DATABASE '/tmp/stolen'", REFUSED),
    ("copy_database", "COPY FROM DATABASE xuncha TO memory", REFUSED),
    # attaching
    ("attach_store", "ATTACH '{store_file}' AS s (READ_ONLY)", REFUSED),
    ("attach_other", "ATTACH '/tmp/other.duckdb' AS o", REFUSED),
    ("attach_memory", "ATTACH ':memory:' AS m", REFUSED),
    ("detach", "DETACH xuncha", REFUSED),
    ("use", "USE system", REFUSED),
    # extensions
    ("install_httpfs", "INSTALL httpfs", REFUSED),
    ("load_fts", "LOAD fts", REFUSED),
    ("force_install", "FORCE INSTALL httpfs FROM core_nightly", REFUSED),
    ("update_extensions", "UPDATE EXTENSIONS", REFUSED),
    # settings
    ("set_external_access", "SET enable_external_access = true", REFUSED),
    ("reset_external_access", "RESET enable_external_access", REFUSED),
    ("set_memory_limit", "SET memory_limit = '100GB'", REFUSED),
    ("set_lock", "SET lock_configuration = false", REFUSED),
    ("set_global_filesystems", "SET GLOBAL disabled_filesystems = ''", REFUSED),
    ("set_variable", "SET VARIABLE x = 1", REFUSED),
    (
        "enable_logging",
        "SELECT * FROM enable_logging(storage = 'file', storage_path = '/tmp/l')",
        REFUSED,
    ),
    ("grammar_extension", "SELECT * FROM add_grammar_extension('x')", REFUSED),
    # several statements
    ("stacked_drop", "SELECT 1; DROP TABLE findings", REFUSED),
    ("stacked_selects", "SELECT 1; SELECT 2", REFUSED),
    ("stacked_after_comment", "SELECT 1 /* ; */; DELETE FROM findings", REFUSED),
    # DDL and DML
    ("create_table", "CREATE TABLE t AS SELECT 1", REFUSED),
    ("create_temp_table", "CREATE TEMP TABLE t AS SELECT * FROM findings", REFUSED),
    ("create_macro", "CREATE MACRO leak(x) AS x", REFUSED),
    ("create_view", "CREATE VIEW v AS SELECT 1", REFUSED),
    ("create_secret", "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", REFUSED),
    ("drop_table", "DROP TABLE findings", REFUSED),
    ("alter_table", "ALTER TABLE findings ADD COLUMN x INTEGER", REFUSED),
    ("comment_on", "COMMENT ON TABLE findings IS 'x'", REFUSED),
    ("insert", "INSERT INTO findings (finding_id) VALUES (-1)", REFUSED),
    ("update", "UPDATE measures SET status = 'DONE'", REFUSED),
    ("delete", "DELETE FROM findings", REFUSED),
    ("truncate", "TRUNCATE findings", REFUSED),
    (
        "merge",
        "MERGE INTO units USING (SELECT 1 AS unit_id) s USING (unit_id) WHEN MATCHED THEN DELETE",
        REFUSED,
    ),
    (
        "delete_in_cte",
        "WITH x AS (DELETE FROM findings RETURNING *) SELECT count(*) FROM x",
        REFUSED,
    ),
    (
        "update_in_cte",
        "WITH x AS (UPDATE measures SET status = 'DONE' RETURNING *) SELECT 1",
        REFUSED,
    ),
    (
        "insert_in_cte",
        "WITH x AS (INSERT INTO units (unit_id) VALUES (-1) RETURNING *) SELECT 1",
        REFUSED,
    ),
    (
        "write_through_query",
        "SELECT * FROM query('WITH x AS (DELETE FROM units RETURNING *) SELECT 1')",
        FAILS,
    ),
    # PRAGMA, CALL, maintenance, transactions, prepared statements
    ("pragma_database_list", "PRAGMA database_list", REFUSED),
    ("pragma_enable_profiling", "PRAGMA enable_profiling", REFUSED),
    ("call", "CALL pragma_database_list()", REFUSED),
    ("checkpoint", "CHECKPOINT", REFUSED),
    ("force_checkpoint", "FORCE CHECKPOINT", REFUSED),
    ("vacuum", "VACUUM", REFUSED),
    ("analyze", "ANALYZE", REFUSED),
    ("begin", "BEGIN TRANSACTION", REFUSED),
    ("commit", "COMMIT", REFUSED),
    ("prepare", "PREPARE p AS SELECT 1", REFUSED),
    ("execute", "EXECUTE p", REFUSED),
    ("deallocate", "DEALLOCATE p", REFUSED),
    ("explain_analyze", "EXPLAIN ANALYZE SELECT 1", REFUSED),
    ("pivot_without_in", "PIVOT findings ON category_l1 USING count(*)", REFUSED),
    # leaks through functions
    ("getenv", "SELECT getenv('HOME')", FAILS),
    ("python_variable", "SELECT * FROM secret_frame", FAILS),
    ("pointer_scan", "SELECT * FROM arrow_scan(1, 2, 3)", FAILS),
    ("tables_outside", "SELECT * FROM import_batches", FAILS),
    ("batch_changes", "SELECT * FROM batch_changes", FAILS),
    ("users", "SELECT * FROM users", FAILS),
    ("store_meta", "SELECT * FROM store_meta", FAILS),
    ("schema_migrations", "SELECT * FROM schema_migrations", FAILS),
    ("audit_table", "SELECT * FROM audit", FAILS),
    ("clues_without_permission", "SELECT * FROM clues", FAILS),
    ("source_alias", "SELECT * FROM xuncha_src.main.findings", FAILS),
    # text
    ("nul_character", "SELECT 1\x00; DROP TABLE findings", REFUSED),
    ("huge_text", "SELECT 1 -- " + "x" * 20_000, REFUSED),
    ("empty", "  ;  -- nothing", REFUSED),
]


@pytest.fixture(scope="module")
def box(demo_store: Store) -> Iterator[Sandbox]:
    reader = open_reader(demo_store)
    try:
        scope = resolve_scope(reader, Filters())
    finally:
        reader.close()
    sandbox = Sandbox.for_scope(demo_store, scope, clue_details=False, cache=False)
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def sandbox_file(box: Sandbox) -> str:
    return str(
        box.run(
            "SELECT path FROM duckdb_databases() WHERE database_name = 'xuncha'", user=USER
        ).frame.item()
    )


@pytest.fixture(scope="module")
def baseline(box: Sandbox) -> dict[str, int]:
    return _counts(box)


def _counts(box: Sandbox) -> dict[str, int]:
    frame = box.run(
        "SELECT (SELECT count(*) FROM findings) f, (SELECT count(*) FROM measures) m,"
        " (SELECT count(*) FROM units) u, (SELECT count(*) FILTER (WHERE status = 'DONE')"
        " FROM measures) d",
        user=USER,
    ).frame
    return frame.row(0, named=True)


def test_there_are_at_least_thirty_attacks() -> None:
    assert len(ATTACKS) >= 30
    assert len({name for name, _, _ in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize(("name", "sql", "outcome"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_an_attack_is_refused_or_contained(
    box: Sandbox,
    demo_store: Store,
    sandbox_file: str,
    baseline: dict[str, int],
    name: str,
    sql: str,
    outcome: str,
) -> None:
    text = (
        sql.format(
            store_file=demo_store.current_file(),
            store_dir=demo_store.root,
            sandbox_file=sandbox_file,
        )
        if "{" in sql and "\x00" not in sql
        else sql
    )
    expected = SandboxRefused if outcome == REFUSED else SandboxError
    with pytest.raises((SandboxRefused, SandboxError, SandboxTimeout)) as caught:
        box.run(text, user=USER)
    assert isinstance(caught.value, expected), (name, caught.value.reason, caught.value.message)
    assert "\n" not in caught.value.message
    for shown in (caught.value.message, caught.value.detail or ""):
        assert str(demo_store.root) not in shown
    assert _counts(box) == baseline  # still answers, nothing changed


def test_no_attack_left_a_file_behind() -> None:
    for path in (
        "/tmp/stolen.csv",
        "/tmp/stolen.parquet",
        "/tmp/stolen",
        "/tmp/l",
        "/tmp/other.duckdb",
    ):
        assert not Path(path).exists(), path


def test_the_catalog_shows_no_store_path_and_no_other_database(
    box: Sandbox, demo_store: Store
) -> None:
    databases = box.run("SELECT database_name, path FROM duckdb_databases()", user=USER).frame
    assert sorted(databases["database_name"].to_list()) == ["system", "temp", "xuncha"]
    for path in databases["path"].drop_nulls().to_list():
        assert str(demo_store.root) not in path
    sizes = box.run("SELECT database_name FROM pragma_database_size()", user=USER).frame
    assert sizes.to_series().to_list() == ["xuncha"]


def test_no_setting_names_the_store_or_the_servers_home(box: Sandbox, demo_store: Store) -> None:
    import os

    values = box.run("SELECT value FROM duckdb_settings()", user=USER, max_rows=5000).frame
    text = " ".join(v for v in values["value"].to_list() if v)
    assert str(demo_store.root) not in text
    assert os.path.expanduser("~") not in text
    home = box.run("SELECT current_setting('home_directory')", user=USER).frame.item()
    assert home == ""


def test_the_sandbox_holds_exactly_the_documented_tables(box: Sandbox) -> None:
    tables = (
        box.run("SELECT table_name FROM duckdb_tables() ORDER BY ALL", user=USER)
        .frame.to_series()
        .to_list()
    )
    assert tables == sorted(
        [
            "category_aliases",
            "category_entries",
            "category_l1",
            "category_l2",
            "chain_current",
            "chain_findings",
            "clue_counts",
            "evaluation_decisions",
            "evaluation_entries",
            "evaluation_entry_evidence",
            "evidence_files",
            "finding_cells",
            "finding_repeats",
            "finding_timeline",
            "findings",
            "inspection_settled",
            "inspections",
            "measure_deadline_history",
            "measure_status_history",
            "measure_timeline",
            "measures",
            "notice_items",
            "notices",
            "outcomes",
            "rect_current",
            "rect_current_dates",
            "rect_current_done",
            "rect_current_group_dates",
            "rect_current_groups",
            "rect_current_inspection",
            "rect_current_measures",
            "rectify_steps",
            "rectify_submissions",
            "rounds",
            "submission_evidence",
            "tag_dictionary",
            "units",
        ]
    )
    views = box.run("SELECT count(*) FROM duckdb_views() WHERE NOT internal", user=USER)
    assert views.frame.item() == 0
