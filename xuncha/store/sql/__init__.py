"""The store's own SQL, as SQL files: the vocabulary every query is built from and the derived
tables, in the order a write builds them.

    vocabulary.sql          scalar macros: the scope test, the as-of test, overdue, long-term,
                            the warning colour, the roll-up's groups (each 口径 written once)
    timelines.sql           measure_timeline, finding_repeats, finding_timeline
    settled.sql             inspection_settled (when each inspection's state stops changing)
    current_summaries.sql   rect_current, rect_current_dates, rect_current_done,
                            rect_current_measures (the state on or after settled_on)
    current_inspection.sql  rect_current_inspection (from rect_current)
    current_groups.sql      rect_current_groups, rect_current_group_dates
    vocabulary_tables.sql   table macros over those tables: finding_at, measure_at,
                            listed_measures_at, finding_counts_at, open_deadlines_at
    lists.sql               finding_cells and its macros finding_cells_at,
                            finding_tag_cells_at: findings per inspection × category as of
                            any date (settled inspections' summaries, active ones' timelines);
                            chain_findings, chain_current (屡查屡犯), category_entries
    curve.sql               curve_cells, curve_whole, curve_settled and the macro
                            curve_deltas_at: the 整改进度曲线's difference arrays per
                            inspection × category × day, as of any date

The named queries (queries/*.sql) select over the vocabulary; the SQL sandbox installs it too,
so the canned queries of 数据查询 run there unchanged.
"""

from __future__ import annotations

import functools
from importlib import resources

import duckdb

VOCABULARY = ("vocabulary", "vocabulary_tables")
# Every file a write runs, in its order (schema.refresh_derived, add_current_summaries).
FILES = (
    "vocabulary",
    "timelines",
    "settled",
    "current_summaries",
    "current_inspection",
    "current_groups",
    "vocabulary_tables",
    "lists",
    "curve",
)


@functools.cache
def text(name: str) -> str:
    """The SQL of one file of this folder (`name` without .sql)."""
    return (resources.files(__package__) / f"{name}.sql").read_text(encoding="utf-8")


def run(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Run every statement of one file on `con` (in its default catalog)."""
    con.execute(text(name))


def digest() -> str:
    """A short digest of every file a write runs: what the layout mark (schema.CURRENT_LAYOUT)
    stands for. A test compares it with schema.LAYOUT_DIGEST, so that changing the SQL without
    raising the layout (which makes older versions read through an upgraded copy) fails."""
    import hashlib

    h = hashlib.sha256()
    for name in FILES:
        h.update(text(name).encode("utf-8"))
    return h.hexdigest()[:16]


def macro_names() -> dict[str, list[str]]:
    """The macros each vocabulary file defines, by file, in order."""
    import re

    pattern = re.compile(r"CREATE OR REPLACE MACRO (\w+)\(")
    return {name: pattern.findall(text(name)) for name in VOCABULARY}
