"""The same questions in plain SQLite (the competitor a team would reach for first).

The tables ours read are copied from the store through Arrow into an in-memory SQLite
database (dates as ISO text, booleans as 0/1), with indexes on what every question filters
by, then ANALYZE. Loading is timed and reported but not counted. The scope's inspections go
into a temporary table on each call (part of the timed answer, as binding the list is for
ours).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from xuncha.bench.questions import (
    COMPLETION_RATES,
    QUESTIONS,
    RATE_PARTS,
    REPEAT_RATES,
    TREND_RATES,
    Ask,
    normalise,
)

# (table, DuckDB SELECT exporting it with SQLite-friendly types, SQLite DDL)
TABLES: list[tuple[str, str, str]] = [
    (
        "finding_timeline",
        "SELECT finding_id, inspection_id, round_id, unit_id, category_l1, category_l2,"
        " strftime(valid_from, '%Y-%m-%d') AS valid_from,"
        " strftime(valid_to, '%Y-%m-%d') AS valid_to, status,"
        " strftime(earliest_open_deadline, '%Y-%m-%d') AS earliest_open_deadline,"
        " is_repeat::INTEGER AS is_repeat, is_rebound::INTEGER AS is_rebound"
        " FROM finding_timeline",
        "finding_id INTEGER, inspection_id INTEGER, round_id INTEGER, unit_id INTEGER,"
        " category_l1 TEXT, category_l2 TEXT, valid_from TEXT, valid_to TEXT, status TEXT,"
        " earliest_open_deadline TEXT, is_repeat INTEGER, is_rebound INTEGER",
    ),
    (
        "measure_timeline",
        "SELECT measure_id, finding_id, inspection_id, round_id, unit_id, category_l1,"
        " category_l2, strftime(valid_from, '%Y-%m-%d') AS valid_from,"
        " strftime(valid_to, '%Y-%m-%d') AS valid_to, status,"
        " strftime(deadline, '%Y-%m-%d') AS deadline,"
        " on_time_original::INTEGER AS on_time_original,"
        " on_time_current::INTEGER AS on_time_current"
        " FROM measure_timeline",
        "measure_id INTEGER, finding_id INTEGER, inspection_id INTEGER, round_id INTEGER,"
        " unit_id INTEGER, category_l1 TEXT, category_l2 TEXT, valid_from TEXT, valid_to TEXT,"
        " status TEXT, deadline TEXT, on_time_original INTEGER, on_time_current INTEGER",
    ),
    (
        "findings",
        "SELECT finding_id, title, detail FROM findings",
        "finding_id INTEGER PRIMARY KEY, title TEXT, detail TEXT",
    ),
]
INDEXES = [
    "CREATE INDEX ft_scope ON finding_timeline (inspection_id, valid_from)",
    "CREATE INDEX ft_l1 ON finding_timeline (category_l1)",
    "CREATE INDEX mt_scope ON measure_timeline (inspection_id, valid_from)",
    "CREATE INDEX mt_l1 ON measure_timeline (category_l1)",
]

_IN_SCOPE = """
    inspection_id IN (SELECT inspection_id FROM scope)
    AND (:l1 IS NULL OR category_l1 IN (SELECT value FROM json_each(:l1)))
    AND (:l2 IS NULL OR category_l2 IN (SELECT value FROM json_each(:l2)))
    AND valid_from <= :as_of AND (valid_to IS NULL OR valid_to > :as_of)
"""


def _rate(num: str, den: str) -> str:
    return f"CASE WHEN {den} > 0 THEN ((2 * ({num}) * 10000 + {den}) / (2 * {den})) / 100.0 END"


_F_AGG = """
    count(*) AS findings,
    count(DISTINCT unit_id) AS units,
    count(DISTINCT inspection_id) AS inspections,
    count(*) FILTER (WHERE status = 'DONE') AS findings_done,
    count(*) FILTER (WHERE status = 'BASICALLY_DONE') AS findings_basically_done,
    count(*) FILTER (WHERE status = 'OPEN') AS findings_open,
    count(*) FILTER (WHERE earliest_open_deadline < :as_of) AS overdue_findings,
    count(*) FILTER (WHERE is_repeat = 1) AS repeat_findings,
    count(*) FILTER (WHERE is_rebound = 1) AS rebound_findings
"""
_M_AGG = """
    count(*) AS measures,
    count(*) FILTER (WHERE status = 'DONE') AS measures_done,
    count(*) FILTER (WHERE status = 'PHASED') AS measures_phased,
    count(*) FILTER (WHERE status = 'IN_PROGRESS') AS measures_in_progress,
    count(*) FILTER (WHERE status = 'NOT_DONE') AS measures_not_done,
    count(*) FILTER (WHERE status <> 'DONE' AND (deadline IS NULL OR status = 'LONG_TERM'))
        AS measures_long_term,
    count(*) FILTER (WHERE status <> 'DONE' AND deadline < :as_of) AS overdue_measures,
    count(*) FILTER (WHERE status <> 'DONE' AND deadline >= :as_of) AS measures_not_due,
    count(*) FILTER (WHERE status = 'DONE' AND on_time_original IS NOT NULL)
        AS completed_with_deadline,
    count(*) FILTER (WHERE on_time_original = 1) AS on_time_original,
    count(*) FILTER (WHERE status = 'DONE' AND on_time_current IS NOT NULL)
        AS completed_with_current_deadline,
    count(*) FILTER (WHERE on_time_current = 1) AS on_time_current
"""
_M_COLUMNS = [
    "measures",
    "measures_done",
    "measures_phased",
    "measures_in_progress",
    "measures_not_done",
    "measures_long_term",
    "overdue_measures",
    "measures_not_due",
    "completed_with_deadline",
    "on_time_original",
    "completed_with_current_deadline",
    "on_time_current",
]


def _rates_sql(keys: list[str]) -> str:
    parts = []
    for key in keys:
        numerator, denominator = RATE_PARTS[key]
        parts.append(f"{_rate(' + '.join(numerator), denominator)} AS {key}")
    return ", ".join(parts)


def _completion_sql(group: str) -> str:
    g = {"all": "'all'", "unit": "unit_id", "round": "round_id"}[group]
    measures = ", ".join(f"coalesce(m.{c}, 0) AS {c}" for c in _M_COLUMNS)
    return f"""
WITH f AS (SELECT {g} AS gid, {_F_AGG} FROM finding_timeline WHERE {_IN_SCOPE} GROUP BY gid),
m AS (SELECT {g} AS gid, {_M_AGG} FROM measure_timeline WHERE {_IN_SCOPE} GROUP BY gid),
j AS (SELECT f.*, {measures} FROM f LEFT JOIN m ON m.gid = f.gid)
SELECT *, {_rates_sql(COMPLETION_RATES)} FROM j
"""


def _findings_only_sql(group: str, rates: list[str]) -> str:
    g = {"unit": "unit_id", "round": "round_id"}[group]
    return f"""
WITH f AS (SELECT {g} AS gid, {_F_AGG} FROM finding_timeline WHERE {_IN_SCOPE} GROUP BY gid)
SELECT *, {_rates_sql(rates)} FROM f
"""


def _sql() -> dict[str, tuple[str, str | None]]:
    """question → (SQL, name of the group column to rename to the question's key)."""
    return {
        "distribution": (
            f"SELECT unit_id, category_l1 AS category, count(*) AS findings"
            f" FROM finding_timeline WHERE {_IN_SCOPE} GROUP BY unit_id, category_l1",
            None,
        ),
        "completion_overall": (_completion_sql("all"), "group"),
        "completion_by_unit": (_completion_sql("unit"), "unit_id"),
        "completion_by_round": (_completion_sql("round"), "round_id"),
        "trend_by_round": (_findings_only_sql("round", TREND_RATES), "round_id"),
        "repeats_by_unit": (_findings_only_sql("unit", REPEAT_RATES), "unit_id"),
        "text_search": (
            """SELECT t.finding_id, f.title FROM finding_timeline t
            JOIN findings f ON f.finding_id = t.finding_id
            WHERE t.inspection_id IN (SELECT inspection_id FROM scope)
              AND (:l1 IS NULL OR t.category_l1 IN (SELECT value FROM json_each(:l1)))
              AND (:l2 IS NULL OR t.category_l2 IN (SELECT value FROM json_each(:l2)))
              AND t.valid_from <= :as_of AND (t.valid_to IS NULL OR t.valid_to > :as_of)
              AND (instr(f.title, :text) > 0 OR instr(coalesce(f.detail, ''), :text) > 0)
            ORDER BY t.finding_id""",
            None,
        ),
    }


class SqliteImpl:
    """An in-memory SQLite copy of the tables the questions read."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, path: Path | None = None) -> None:
        started = time.perf_counter()
        self.con = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self.con.execute("PRAGMA journal_mode = OFF")
        self.con.execute("PRAGMA synchronous = OFF")
        self.con.execute("PRAGMA cache_size = -2000000")
        self.con.execute("PRAGMA temp_store = MEMORY")
        self.rows = 0
        for table, select, ddl in TABLES:
            self.con.execute(f"CREATE TABLE {table} ({ddl})")
            reader = duck.sql(select).to_arrow_reader(batch_size=200_000)
            marks = ", ".join("?" for _ in reader.schema.names)
            for batch in reader:
                columns = [column.to_pylist() for column in batch.columns]
                self.con.executemany(
                    f"INSERT INTO {table} VALUES ({marks})", zip(*columns, strict=True)
                )
                self.rows += batch.num_rows
        for ddl in INDEXES:
            self.con.execute(ddl)
        self.con.execute("ANALYZE")
        self.con.execute("CREATE TEMP TABLE scope (inspection_id INTEGER PRIMARY KEY)")
        self.con.commit()
        self.load_s = time.perf_counter() - started
        self._sql = _sql()

    def answer(self, key: str, ask: Ask) -> pl.DataFrame:
        question = QUESTIONS[key]
        sql, group = self._sql[key]
        cur = self.con.cursor()
        cur.execute("DELETE FROM scope")
        cur.executemany("INSERT INTO scope VALUES (?)", ((i,) for i in ask.inspection_ids))
        params: dict[str, Any] = {
            "as_of": ask.as_of.isoformat(),
            "l1": json.dumps(list(ask.category_l1)) if ask.category_l1 else None,
            "l2": json.dumps(list(ask.category_l2)) if ask.category_l2 else None,
        }
        if key == "text_search":
            params["text"] = ask.text
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        frame = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
        if group is not None:
            frame = frame.rename({"gid": group})
        return normalise(question, frame)

    def close(self) -> None:
        self.con.close()
