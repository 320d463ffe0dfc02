"""Figures of online rectification (DOMAIN.md §8), per unit as of a date: done claims awaiting
review (待审核) and 销号 (待销号), returns (退回次数) and the return rate (退回率), closures and
the days from submission to 销号. Every count reads only steps dated on or before the date, so
an "as of" answer replays exactly."""

from __future__ import annotations

import polars as pl

from xuncha.figures.rates import Figure, rate_expr
from xuncha.filters import Scope
from xuncha.store.reader import Reader

RETURN_RATE = Figure(
    "return_rate",
    "退回率",
    ("returns",),
    "decisions",
    "被审核人或销号人退回的完成申请次数 ÷ 审核决定次数（审核通过与退回）；截至统计日。",
)
CLOSE_DAYS_DEFINITION = "销号用时：已销号的完成申请从提交到销号的天数中位数（自然日）。"
PENDING_DEFINITION = "待审核：截至统计日已提交完成申请、尚未审核的措施数；待审核的措施不计为完成。"

COLUMNS = {
    "unit_name": "单位",
    "submitted": "报完成次数",
    "pending_review": "待审核",
    "pending_close": "待销号",
    "returns": "退回次数",
    "decisions": "审核决定次数",
    "return_rate": "退回率（%）",
    "closed": "已销号",
    "close_days_median": "销号用时中位数（天）",
}


def online_by_unit(reader: Reader, scope: Scope) -> pl.DataFrame:
    """One row per unit with online activity in scope, as of scope.as_of."""
    frame = reader.query(
        "rectify_unit_counts",
        {"inspection_ids": scope.ids_param(), "as_of": scope.as_of},
    )
    if scope.unit_filter is not None:
        frame = frame.filter(pl.col("unit_id").is_in(list(scope.unit_filter)))
    return frame.with_columns(
        rate_expr(RETURN_RATE.numerator, RETURN_RATE.denominator).alias(RETURN_RATE.key)
    )


def online_totals(frame: pl.DataFrame) -> dict[str, object]:
    """The units' counts added up, with the rate of the sums (never a mean of rates)."""
    sums = {
        k: int(frame[k].sum()) if frame.height else 0
        for k in ("submitted", "pending_review", "pending_close", "returns", "decisions", "closed")
    }
    return {**sums, "return_rate": RETURN_RATE.compute(sums)}
