"""Rectification figures (整改完成率, 逾期, 按期, 重复, 反弹 …) overall or by a grouping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from xuncha.figures import disclosure
from xuncha.figures.rates import (
    COMMON_K_MIN,
    COMMON_K_SHARE,
    DEFINITIONS,
    MIN_SAMPLE,
    SMALL_SAMPLE_LABEL,
)
from xuncha.filters import Scope
from xuncha.store.reader import Reader
from xuncha.store.schema import WHOLE_GROUPINGS

# --by value → (query grouping, label shown to users)
GROUPINGS: dict[str, str] = {
    "all": "全部",
    "round": "轮次",
    "unit": "单位",
    "round_unit": "轮次与单位",
    "category_l1": "一级类别",
    "category_l2": "二级类别",
    "sector": "行业领域",
    "peer_group": "同类组",
}

COUNT_COLUMNS = [
    "units",
    "inspections",
    "findings",
    "findings_done",
    "findings_basically_done",
    "findings_open",
    "overdue_findings",
    "repeat_findings",
    "rebound_findings",
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


def rectification(
    reader: Reader, scope: Scope, by: str = "all", *, cycle_median: bool = True
) -> pl.DataFrame:
    """Counts and rates per group (one row with group_key 全部 when by = all).

    Rates are added by the single definitions in `rates.DEFINITIONS`; `small_sample` marks
    groups with fewer than MIN_SAMPLE findings. `cycle_median=False` leaves out the median
    cycle time (column cycle_days_median absent), the costliest part of the query, for
    callers that do not show it.
    """
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; choose from {', '.join(GROUPINGS)}")
    counts = reader.query(
        _query_for(reader, scope, by), scope.params(by=by, cycle_median=cycle_median)
    )
    if by == "all" and counts.is_empty():
        counts = _zero_row(counts)
    if not cycle_median:
        counts = counts.drop("cycle_days_median")
    return counts.with_columns(
        *(figure.expr() for figure in DEFINITIONS.values()),
        (pl.col("findings") < MIN_SAMPLE).alias("small_sample"),
        pl.when(pl.col("findings") < MIN_SAMPLE)
        .then(pl.lit(SMALL_SAMPLE_LABEL))
        .otherwise(pl.lit(""))
        .alias("sample_note"),
    )


# Before settled_on the timelines' findings and measures of the inspections still changing are
# counted once per grouping either way, and one statement for two or three groupings measured
# 7-19 % more CPU than their own queries at a million findings (总览, 整改进度, 屡查屡犯), against
# 40 % less for the brief's five: groupings of a past date are merged from four on.
PAST_MERGE_MIN = 4


def prefetch_rectification(
    reader: Reader, scope: Scope, groupings: Sequence[str], *, medians: Sequence[str] = ()
) -> None:
    """Compute the counts of several groupings of one scope with one query and keep them as
    the results of each grouping's own query, so that the page's `rectification(reader,
    scope, by)` calls that follow read them instead of running one query each: a page asks
    for two or three groupings of the same scope, and each query costs its planning and its
    scan of the summaries again (rectification_counts_grouped; tests/test_counts_grouped.py
    checks that each grouping's rows are those its own query gives).

    `medians`: the groupings the page then asks with cycle_median=True. Only for a reader
    that keeps results (the dashboard's; elsewhere each call runs its own query as before),
    only for the groupings read by rectification_counts_current (the whole store's groups
    summed at write time are one small table each), and for a date before settled_on only
    from PAST_MERGE_MIN groupings on."""
    unknown = [by for by in (*groupings, *medians) if by not in GROUPINGS]
    if unknown:
        raise ValueError(f"unknown grouping {unknown[0]!r}; choose from {', '.join(GROUPINGS)}")
    if not reader.keeps_results():
        return
    merged = [
        by
        for by in dict.fromkeys(groupings)
        if _query_for(reader, scope, by) == "rectification_counts_current"
    ]
    if len(merged) < (2 if scope.current else PAST_MERGE_MIN):
        return
    with_median = [by for by in merged if by in medians]
    frame = reader.query(
        "rectification_counts_grouped", scope.params(bys=merged, median_bys=with_median)
    )
    for by in merged:
        rows = frame.filter(pl.col("grouping") == by).drop("grouping")
        no_median = rows.with_columns(pl.lit(None, pl.Float64).alias("cycle_days_median"))
        reader.prime(
            "rectification_counts_current", scope.params(by=by, cycle_median=False), no_median
        )
        if by in with_median:
            reader.prime(
                "rectification_counts_current", scope.params(by=by, cycle_median=True), rows
            )


def _query_for(reader: Reader, scope: Scope, by: str) -> str:
    """The named query answering this scope and grouping: the groups summed at write time
    for the whole store without a category on or after settled_on (the usual state), else
    the current-state summaries of the inspections settled by the date with the timelines of
    those still changing on it (rectification_counts_current, any date), or the timelines
    alone for a store without the summaries. All three give the same rows.

    The summaries' counts are a query of their own rather than a $current branch of
    rectification_counts: DuckDB binds and optimises both branches before it drops one, and
    that doubled the planning of every call (80 → 200 ms at a million findings)."""
    if scope.settled_on is None:
        return "rectification_counts"
    whole = scope.ids_param() is None and not scope.category_l1 and not scope.category_l2
    if scope.current and whole and by in WHOLE_GROUPINGS:
        return "rectification_counts_whole"
    return "rectification_counts_current"


def _zero_row(empty: pl.DataFrame) -> pl.DataFrame:
    values: dict[str, Any] = {c: [0] for c in COUNT_COLUMNS}
    values |= {
        "group_key": ["全部"],
        "group_id": ["all"],
        "group_order": [None],
        "cycle_days_median": [None],
    }
    return pl.DataFrame(values).select([pl.col(c).cast(empty.schema[c]) for c in empty.columns])


def metrics_records(frame: pl.DataFrame, by: str = "all") -> list[dict[str, Any]]:
    """Rows as the command line prints them: the group key under the grouping's name."""
    out = []
    for row in frame.to_dicts():
        record: dict[str, Any] = {}
        if by != "all":
            record[by] = row["group_key"]
        for column in COUNT_COLUMNS:
            record[column] = int(row[column])
        record["cycle_days_median"] = row["cycle_days_median"]
        for key in DEFINITIONS:
            record[key] = row[key]
        record["small_sample"] = row["small_sample"]
        out.append(record)
    return out


def overview(reader: Reader, scope: Scope) -> dict[str, Any]:
    """The overview's headline figures: counts of the scope plus the overall rectification.
    `clues` and `clue_persons` are disclosure.Shown: exact only for a scope with clue rights."""
    kpi = reader.query(
        "kpi_overview", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    ).to_dicts()[0]
    clue = disclosure.totals(reader, scope)
    totals = rectification(reader, scope, "all", cycle_median=False).to_dicts()[0]
    return {**kpi, "clues": clue["clues"], "clue_persons": clue["persons"], **totals}


CURVE_DEFINITION = (
    "横轴为反馈后天数。每条曲线只画到该轮最后反馈的单位也已到达的天数（统计截至日减该轮最晚的"
    "反馈日期），分母始终是该轮截至统计日已反馈的全部问题；某天的完成率 = 反馈后该天已完成的问题数"
    " ÷ 该轮全部问题数（按状态变更记录回溯，含基本完成口径时分子另加基本完成的问题）。"
    "曲线下降只会是因为确有问题在该天由已完成（含基本完成口径时含基本完成）改回未完成；"
    "该轮有单位刚反馈时曲线较短。"
    "按措施口径时曲线仍按问题计算。"
)


def progress_curve(reader: Reader, scope: Scope, step: int = 7) -> pl.DataFrame:
    """Completion over days since 反馈 for each round: strict and lenient rates per point,
    each round over its complete cohort (queries/rectification_curve.sql; CURVE_DEFINITION)."""
    frame = reader.query("rectification_curve", scope.params(step=step))
    return frame.with_columns(
        DEFINITIONS["completion_rate"].expr(), DEFINITIONS["completion_rate_lenient"].expr()
    )


def common_problems(
    reader: Reader,
    scope: Scope,
    k_min: int | None = None,
    k_share: float | None = None,
    *,
    round_from: int | None = None,
    round_to: int | None = None,
    with_names: bool = True,
) -> pl.DataFrame:
    """共性问题 of each round with the k rule of DOMAIN.md §5 (defaults from rates);
    round_from/round_to (round seq, inclusive): only those rounds (a page showing one round
    asks for that one: the unit lists are most of the cost); with_names=False leaves the
    unit lists out (unit_names NULL)."""
    k_min = COMMON_K_MIN if k_min is None else k_min
    k_share = COMMON_K_SHARE if k_share is None else k_share
    if k_min < 1 or not 0 <= k_share <= 1:
        raise ValueError("k_min must be ≥ 1 and k_share within 0–1")
    return reader.query(
        "common_problems",
        scope.params(
            k_min=k_min,
            k_share=k_share,
            round_from=round_from,
            round_to=round_to,
            with_names=with_names,
        ),
    )


def common_problem_rounds(problems: pl.DataFrame) -> pl.DataFrame:
    """The rounds having common problems, latest first, with how many (round_id, round_name,
    seq, problems), from the rows of `common_problems`."""
    return (
        problems.group_by("round_id", "round_name", "seq")
        .agg(pl.len().cast(pl.Int64).alias("problems"))
        .sort("seq", descending=True)
    )


def mostly_not_due(counts: Mapping[str, Any]) -> bool:
    """Whether at least half of a group's open measures are still within their deadline
    (rows of `rectification`): a round still inside its rectification time, whose completion
    rate reads low as normal progress, not as a delay."""
    open_measures = int(counts["measures"] or 0) - int(counts["measures_done"] or 0)
    return open_measures > 0 and int(counts["measures_not_due"] or 0) * 2 >= open_measures


def findings_density(by_peer_group: pl.DataFrame, by: str) -> pl.DataFrame:
    """平均每次巡察问题数 of each peer group or sector (`by`: "peer_group" or "sector"): the
    findings over the inspections fed back, to one decimal, with the inspections, findings
    and units summed; from the rows of queries/findings_by_peer_group.sql, in their order."""
    return (
        by_peer_group.group_by(by, maintain_order=True)
        .agg(pl.col("inspections").sum(), pl.col("findings").sum(), pl.col("units").sum())
        .with_columns(
            (pl.col("findings") / pl.col("inspections")).round(1).alias("findings_per_inspection")
        )
    )
