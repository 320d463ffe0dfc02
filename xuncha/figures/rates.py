"""Rates: percentages with two decimals rounded half up, each with its numerator, denominator
and definition (口径) in the words users read."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

# Units with fewer findings than this are marked 样本不足 in rankings and scores.
MIN_SAMPLE = 5
SMALL_SAMPLE_LABEL = "样本不足"


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """numerator ÷ denominator as a percentage, two decimals, half up; None when undefined."""
    if not denominator or numerator is None:
        return None
    value = (Decimal(int(numerator)) * 100 / Decimal(int(denominator))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return float(value)


def rate_expr(numerators: tuple[str, ...], denominator: str) -> pl.Expr:
    """The same rate as `rate`, vectorised: exact integer arithmetic, half up, two decimals."""
    num = pl.sum_horizontal(pl.col(c).cast(pl.Int64) for c in numerators)
    den = pl.col(denominator).cast(pl.Int64)
    hundredths = (2 * num * 10_000 + den) // (2 * den)
    # hundredths is exact; dividing then rounding gives the nearest double to that value.
    return pl.when(den > 0).then((hundredths / 100).round(2)).otherwise(None).cast(pl.Float64)


def format_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    numerator: tuple[str, ...]
    denominator: str
    definition: str

    def expr(self) -> pl.Expr:
        return rate_expr(self.numerator, self.denominator).alias(self.key)

    def compute(self, counts: dict[str, int]) -> float | None:
        num = sum(int(counts.get(k) or 0) for k in self.numerator)
        return rate(num, int(counts.get(self.denominator) or 0))


DEFINITIONS: dict[str, Figure] = {
    f.key: f
    for f in (
        Figure(
            "completion_rate",
            "整改完成率",
            ("findings_done",),
            "findings",
            "全部整改措施均已完成的问题数 ÷ 范围内问题数；措施仅为基本完成或长期坚持的问题不计为完成。",
        ),
        Figure(
            "completion_rate_lenient",
            "含基本完成的完成率",
            ("findings_done", "findings_basically_done"),
            "findings",
            "（已完成问题数 + 基本完成问题数）÷ 范围内问题数。基本完成：其余措施均为基本完成或长期坚持。",
        ),
        Figure(
            "measure_completion_rate",
            "措施完成率",
            ("measures_done",),
            "measures",
            "已完成的整改措施数 ÷ 范围内整改措施数。",
        ),
        Figure(
            "on_time_rate",
            "按期完成率（原定时限）",
            ("on_time_original",),
            "completed_with_deadline",
            "在原定整改时限当日或之前完成的措施数 ÷ 有明确时限的已完成措施数；完成时确定，此后不变。",
        ),
        Figure(
            "on_time_rate_current",
            "按期完成率（现行时限）",
            ("on_time_current",),
            "completed_with_current_deadline",
            "在完成时有效的（含延期后）整改时限当日或之前完成的措施数 ÷ 有明确时限的已完成措施数；"
            "同一份台账（或同一次在线操作）同时报延期和完成的，以其中的新时限为准；"
            "完成时确定，此后不变。",
        ),
        Figure(
            "overdue_rate",
            "逾期率",
            ("overdue_measures",),
            "measures",
            "截至统计日未完成且现行时限早于统计日的措施数 ÷ 范围内措施数；无具体日期的长期坚持措施不计逾期。",
        ),
        Figure(
            "repeat_rate",
            "重复率",
            ("repeat_findings",),
            "findings",
            "同一单位此前轮次已发现过同一二级类别问题的问题数 ÷ 范围内问题数。",
        ),
        Figure(
            "rebound_rate",
            "反弹率",
            ("rebound_findings",),
            "findings",
            "重复问题中，此前同类问题在本次反馈时已整改完成（屡改屡犯）的问题数 ÷ 范围内问题数。",
        ),
    )
}

# 共性问题 (DOMAIN.md §5): an L2 category found in at least max(K_MIN, ⌈K_SHARE × units⌉) units.
COMMON_K_MIN = 3
COMMON_K_SHARE = 0.3
COMMON_DEFINITION = (
    "共性问题：同一轮次中，在不少于 k 个被巡察单位发现的同一二级类别问题；"
    "k 取“最少单位数”与“比例 × 该轮已反馈单位数（向上取整）”中的较大者，"
    "默认为 3 个单位与 30% 中的较大者。"
)
WARNING_DEFINITION = "预警：红 = 已逾期；黄 = 距时限不超过 10 天；绿 = 距时限不超过 20 天。"
CYCLE_DEFINITION = "整改周期：已完成问题从反馈日期到最后一条措施完成日期的天数中位数。"
SIMILARITY_DEFINITION = (
    "相似度：同一单位不同轮次的两条问题（具体问题 + 具体表现，去除标点和数字）"
    "相邻两字组合的重合程度（两者共有的组合数 ÷ 两者全部组合数，即杰卡德相似度）；"
    "仅为提示，不自动合并。"
)
