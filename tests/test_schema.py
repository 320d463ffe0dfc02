"""The schema: the tables users rely on, Chinese comments on everything, migrations."""

from __future__ import annotations

from typing import Any

import duckdb

from xuncha.store import schema

REQUIRED_COLUMNS = {
    "rounds": "round_id, name, term, seq, kind, start_date, end_date",
    "units": "unit_id, name, short_name, sector, peer_group",
    "inspections": "inspection_id, round_id, unit_id, group_name, entry_start, entry_end, feedback_date",
    "findings": "finding_id, inspection_id, round_id, unit_id, category_l1, category_l2, tags, title,"
    " detail, severity, person_level, amount_wan, immediate, source_category_text",
    "measures": "measure_id, finding_id, text, lead_person, department, person, deadline_kind,"
    " deadline_text, deadline_original, deadline_current, status, completed_on, closed_on, evidence",
    "measure_status_history": "measure_id, status, status_date, batch_id",
    "clues": "clue_id, inspection_id, routing, disposal, form, persons, closed_on",
    "outcomes": "inspection_id, regulations, funds_wan, persons_accountable",
    "import_batches": "batch_id, file_name, file_sha256, user_name, created_at, round_id, unit_id, as_of",
    "category_l1": "code, name",
    "category_l2": "code, category_l1, name",
}


def _columns(reader: Any, table: str) -> dict[str, str | None]:
    cursor = reader._con.cursor()
    rows = cursor.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [table]
    ).fetchall()
    return dict(rows)


def test_the_documented_tables_have_at_least_the_documented_columns(demo_reader: Any) -> None:
    for table, columns in REQUIRED_COLUMNS.items():
        present = _columns(demo_reader, table)
        missing = {c.strip() for c in columns.split(",")} - set(present)
        assert not missing, f"{table} lacks {missing}"


def test_every_table_and_column_has_a_chinese_comment(demo_reader: Any) -> None:
    cursor = demo_reader._con.cursor()
    tables = cursor.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'"
    ).fetchall()
    assert len(tables) >= 15
    for table, comment in tables:
        assert comment and any("\u4e00" <= ch <= "\u9fff" for ch in comment), table
        for column, text in _columns(demo_reader, table).items():
            assert text and any("\u4e00" <= ch <= "\u9fff" for ch in text), f"{table}.{column}"


def test_statuses_and_deadline_kinds_are_constrained(tmp_path: Any) -> None:
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    schema.migrate(con)
    con.execute("INSERT INTO rounds VALUES (1, '第一轮', '十四届', 1, '常规', NULL, NULL)")
    con.execute("INSERT INTO units VALUES (1, '市财政局', '市财政局', '财政', '市直部门')")
    con.execute("INSERT INTO inspections VALUES (1, 1, 1, NULL, NULL, NULL, DATE '2024-01-01')")
    con.execute(
        "INSERT INTO findings (finding_id, inspection_id, round_id, unit_id, category_l1, title)"
        " VALUES (1, 1, 1, 1, 'B', 't')"
    )
    for bad in (
        "INSERT INTO measures (measure_id, finding_id, text, deadline_kind, status)"
        " VALUES (1, 1, 'm', 'DATE', 'ALMOST')",
        "INSERT INTO measures (measure_id, finding_id, text, deadline_kind, status)"
        " VALUES (1, 1, 'm', 'SOMEDAY', 'DONE')",
        "INSERT INTO rounds VALUES (2, '第二轮', '十四届', 2, '随便', NULL, NULL)",
    ):
        try:
            con.execute(bad)
        except duckdb.ConstraintException:
            continue
        raise AssertionError(f"accepted: {bad}")


def test_migrating_twice_is_a_no_op_and_records_the_version(tmp_path: Any) -> None:
    con = duckdb.connect(str(tmp_path / "y.duckdb"))
    assert schema.migrate(con) == schema.SCHEMA_VERSION
    assert schema.migrate(con) == schema.SCHEMA_VERSION
    rows = con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(v,) for v in range(1, schema.SCHEMA_VERSION + 1)]
    assert max(number for number, _, _ in schema.MIGRATIONS) == schema.SCHEMA_VERSION
