"""The questions the pages answer, asked of three implementations on the same store:

- ours: the figures functions and named queries the pages call (DuckDB, `xuncha.figures`);
- `sqlite_impl`: plain SQLite (same tables loaded through Arrow, with indexes);
- `pandas_impl`: pandas frames in memory.

Both competitors read the same derived tables ours read (`finding_timeline`,
`measure_timeline`: the status of every finding and measure per interval of time), so the
comparison is engine against engine on one data design. Every answer is normalised to a
sorted Polars frame (counts as Int64, rates rounded to two decimals) and checked equal.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from xuncha import figures
from xuncha.figures.rectification import COUNT_COLUMNS
from xuncha.filters import Scope
from xuncha.store.reader import Reader

# The substring searched in findings' 具体问题 and 具体表现 (present in the demo city's texts).
SEARCH_TEXT = "公务接待"

# Counts of the rectification roll-up compared (every count of rectification_counts but the
# 整改周期 median, which the competitors are spared).
COMPLETION_COUNTS = list(COUNT_COLUMNS)
COMPLETION_RATES = list(figures.DEFINITIONS)
TREND_COUNTS = [
    "findings",
    "findings_done",
    "findings_basically_done",
    "findings_open",
    "repeat_findings",
    "rebound_findings",
]
TREND_RATES = ["completion_rate", "completion_rate_lenient", "repeat_rate", "rebound_rate"]
REPEAT_COUNTS = ["findings", "repeat_findings", "rebound_findings"]
REPEAT_RATES = ["repeat_rate", "rebound_rate"]

# rate key → (numerator columns, denominator column): the definitions of figures.DEFINITIONS.
RATE_PARTS: dict[str, tuple[tuple[str, ...], str]] = {
    key: (f.numerator, f.denominator) for key, f in figures.DEFINITIONS.items()
}


@dataclass(frozen=True)
class Question:
    key: str
    label: str  # shown in the report (Chinese)
    keys: tuple[str, ...]  # key columns of the answer
    counts: tuple[str, ...]
    rates: tuple[str, ...]
    ours: str  # which call of ours answers it (several questions may share one)


QUESTIONS: dict[str, Question] = {
    q.key: q
    for q in (
        Question(
            "distribution",
            "单位 × 一级类别问题数",
            ("unit_id", "category"),
            ("findings",),
            (),
            "findings_by_unit_category",
        ),
        Question(
            "completion_overall",
            "整改完成、按期、逾期（全部）",
            ("group",),
            tuple(COMPLETION_COUNTS),
            tuple(COMPLETION_RATES),
            "rectification:all",
        ),
        Question(
            "completion_by_unit",
            "整改完成、按期、逾期（按单位）",
            ("unit_id",),
            tuple(COMPLETION_COUNTS),
            tuple(COMPLETION_RATES),
            "rectification:unit",
        ),
        Question(
            "completion_by_round",
            "整改完成、按期、逾期（按轮次）",
            ("round_id",),
            tuple(COMPLETION_COUNTS),
            tuple(COMPLETION_RATES),
            "rectification:round",
        ),
        Question(
            "trend_by_round",
            "各轮次问题数、完成率与重复趋势",
            ("round_id",),
            tuple(TREND_COUNTS),
            tuple(TREND_RATES),
            "rectification:round",
        ),
        Question(
            "repeats_by_unit",
            "各单位重复与反弹",
            ("unit_id",),
            tuple(REPEAT_COUNTS),
            tuple(REPEAT_RATES),
            "rectification:unit",
        ),
        Question(
            "text_search",
            f"问题文本检索（含“{SEARCH_TEXT}”）",
            ("finding_id",),
            (),
            (),
            "text_search",
        ),
    )
}

# The questions each page answers (what the SQLite and pandas versions are timed on). The
# ecology page's scorecards start from per-unit completion, overdue and repeat counts; the
# SQL page's canned query in the benchmark is rectification_counts by round.
PAGE_QUESTIONS: dict[str, list[str]] = {
    "overview": ["completion_overall", "trend_by_round"],
    "distribution": ["distribution", "completion_by_unit"],
    "progress": ["completion_overall", "completion_by_unit", "completion_by_round"],
    "repeats": ["completion_overall", "trend_by_round", "repeats_by_unit"],
    "ecology": ["completion_by_round", "completion_by_unit"],
    "briefing": ["completion_overall", "trend_by_round", "distribution", "repeats_by_unit"],
    "sql": ["completion_by_round"],
}


@dataclass(frozen=True)
class Ask:
    """A question's parameters: the scope's inspections, category filters and date."""

    inspection_ids: tuple[int, ...]
    category_l1: tuple[str, ...] | None
    category_l2: tuple[str, ...] | None
    as_of: dt.date
    text: str = SEARCH_TEXT

    @classmethod
    def of(cls, scope: Scope) -> Ask:
        return cls(scope.inspection_ids, scope.category_l1, scope.category_l2, scope.as_of)


# -- ours ----------------------------------------------------------------------------------


class Ours:
    """Our answers: the figures functions and named queries the pages call, on one reader
    (no Streamlit cache); the text search as 问题分布's 关键词检索 answers it, from the text
    index the dashboard holds in memory (loaded once here, as the dashboard does on its
    first search, and timed apart: `text_index_load_s`)."""

    def __init__(self, reader: Reader, con: duckdb.DuckDBPyConnection) -> None:
        self.reader = reader
        self.con = con
        self._index: figures.TextIndex | None = None
        self.index_load_s: float | None = None

    def text_index(self) -> figures.TextIndex:
        if self._index is None:
            started = time.perf_counter()
            self._index = figures.TextIndex.load(self.reader)
            self.index_load_s = round(time.perf_counter() - started, 2)
        return self._index

    def call(self, ours_key: str, scope: Scope) -> pl.DataFrame:
        if ours_key == "findings_by_unit_category":
            return self.reader.query("findings_by_unit_category", scope.params(level=1))
        if ours_key.startswith("rectification:"):
            return figures.rectification(self.reader, scope, ours_key.split(":", 1)[1])
        if ours_key == "text_search":
            ids = self.text_index().search(scope, [SEARCH_TEXT])
            return pl.DataFrame({"finding_id": ids}, schema={"finding_id": pl.Int32})
        raise KeyError(ours_key)


def ours_answer(question: Question, frame: pl.DataFrame) -> pl.DataFrame:
    """Our frame for `question`, normalised for comparison."""
    if question.key == "distribution":
        out = frame.select(pl.col("unit_id"), pl.col("category"), pl.col("findings"))
    elif question.key == "text_search":
        out = frame.select("finding_id")
    else:
        key = question.keys[0]
        group = (
            pl.col("group_id").alias("group")
            if key == "group"
            else pl.col("group_id").cast(pl.Int64).alias(key)
        )
        out = frame.select(group, *question.counts, *question.rates)
    return normalise(question, out)


def normalise(question: Question, frame: pl.DataFrame) -> pl.DataFrame:
    """Keys as Int64 (or text), counts as Int64, rates rounded to two decimals; sorted."""
    columns: list[pl.Expr] = []
    for key in question.keys:
        dtype = pl.String if key in {"group", "category"} else pl.Int64
        columns.append(pl.col(key).cast(dtype))
    columns += [pl.col(c).cast(pl.Int64) for c in question.counts]
    columns += [pl.col(c).cast(pl.Float64).round(2) for c in question.rates]
    return frame.select(columns).sort(list(question.keys))


class AnswerMismatch(AssertionError):
    """A competitor's answer differs from ours: the comparison is void."""


def check_equal(question: Question, ours: pl.DataFrame, other: pl.DataFrame, who: str) -> None:
    if ours.equals(other):
        return
    detail = f"rows ours={ours.height} {who}={other.height}"
    if ours.height == other.height and ours.columns == other.columns:
        for column in ours.columns:
            if not ours[column].equals(other[column]):
                diff = (
                    pl.DataFrame({"ours": ours[column], who: other[column]})
                    .with_row_index()
                    .filter(pl.col("ours").ne_missing(pl.col(who)))
                    .head(3)
                )
                detail += f"; first column that differs: {column}: {diff.to_dicts()}"
                break
    raise AnswerMismatch(f"{question.key}: the {who} answer differs from ours ({detail})")


def rate_values(num: Any, den: Any) -> Any:
    """Percent with two decimals rounded half up from integer counts (works on scalars and
    on numpy/pandas integer arrays): floor((2·num·10⁴ + den) / (2·den)) / 100."""
    return ((2 * num * 10_000 + den) // (2 * den)) / 100


Implementation = Callable[[str, Ask], pl.DataFrame]
