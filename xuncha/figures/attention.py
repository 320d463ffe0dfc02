"""The figures of 关注事项 (what needs attention now) and 对比分析 (two rounds, two dates).

Nothing here defines a figure: every count is one the other pages show, asked through the
same functions and named queries (the 督办清单's colours, the by-unit 反弹 of 屡查屡犯, the
rectification periods, the overview's KPI set, the progress curve), so 关注事项 and the
comparisons can never disagree with the page a link opens. What this module adds is the
choice of items (the top few), the narrowing of a scope to one round or one earlier date, and
the differences between two answers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from xuncha.figures import disclosure
from xuncha.figures.periods import PeriodRule, round_periods
from xuncha.figures.rates import DEFINITIONS, format_rate
from xuncha.figures.rectification import overview, progress_curve, rectification
from xuncha.filters import Scope
from xuncha.store.reader import Reader

# How many items a card of 关注事项 lists; how far ahead a round's period end counts as near.
TOP = 3
ENDING_DAYS = 30
# Without an archived briefing, "new since" looks back this many days from 统计截至.
SINCE_DAYS = 30


def at_date(scope: Scope, as_of: dt.date) -> Scope:
    """The same scope asked as of another date (the scope falls back to the timelines by
    itself when the date is before the store's current-state summaries)."""
    return dataclasses.replace(scope, as_of=as_of)


# -- 关注事项 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warnings:
    """红 (overdue) and 黄 (due within 10 days) measures of the 督办清单 as of the scope's date:
    the counts of measures_supervision_counts and the first rows of each colour in the
    list's own order (most overdue first; for 黄, the nearest deadline first)."""

    red: int
    yellow: int
    top_red: pl.DataFrame
    top_yellow: pl.DataFrame


def warnings(reader: Reader, scope: Scope, top: int = TOP) -> Warnings:
    counts = reader.query("measures_supervision_counts", scope.params()).row(0, named=True)
    red = reader.query("measures_supervision", scope.params(kinds=["红"], limit=top))
    yellow = reader.query("measures_supervision", scope.params(kinds=["黄"], limit=top))
    return Warnings(int(counts["red"]), int(counts["yellow"]), red, yellow)


@dataclass(frozen=True)
class Rebounds:
    """Units with 反弹 findings (屡查屡犯's 各单位重复与反弹, in its order), and the scope's
    total of 反弹 findings (屡查屡犯's 反弹问题 card)."""

    units: pl.DataFrame  # group_key (unit name), group_id, findings, rebound_findings, …
    rebound_findings: int

    @property
    def unit_count(self) -> int:
        return self.units.height


def rebounds(reader: Reader, scope: Scope) -> Rebounds:
    by_unit = rectification(reader, scope, "unit", cycle_median=False)
    units = by_unit.filter(pl.col("rebound_findings") > 0).sort(
        ["rebound_findings", "repeat_findings"], descending=True, maintain_order=True
    )
    total = rectification(reader, scope, "all", cycle_median=False)["rebound_findings"][0]
    return Rebounds(units, int(total or 0))


def rounds_ending(
    reader: Reader, scope: Scope, rule: PeriodRule, days: int | None = ENDING_DAYS
) -> pl.DataFrame:
    """Rounds in scope whose rectification period (整改期, xuncha.figures.periods) has not ended
    by the scope's date and ends within `days` days of it (None: whenever): round_id,
    round_name, seq, period_end, days_left, inspections; the nearest end first."""
    periods = round_periods(reader, scope.ids_param(), scope.as_of, rule)
    names = reader.query("rounds_list").select(
        "round_id", pl.col("name").alias("round_name"), "seq"
    )
    horizon = dt.date.max if days is None else scope.as_of + dt.timedelta(days=days)
    return (
        periods.filter(~pl.col("finished") & (pl.col("period_end") <= horizon))
        .join(names, on="round_id", how="left")
        .with_columns(
            (pl.col("period_end") - pl.lit(scope.as_of)).dt.total_days().alias("days_left")
        )
        .select("round_id", "round_name", "seq", "period_end", "days_left", "inspections")
        .sort("period_end", "seq")
    )


@dataclass(frozen=True)
class NewFindings:
    """Findings fed back after `since` up to the scope's date: the overview's 发现问题 at the
    two dates and their difference, with the rounds and L1 categories that grew."""

    since: dt.date
    before: int
    now: int
    by_round: pl.DataFrame  # round_name, new
    by_category: pl.DataFrame  # category_l1, l1_name, new

    @property
    def new(self) -> int:
        return self.now - self.before


def new_findings(reader: Reader, scope: Scope, since: dt.date) -> NewFindings:
    earlier = at_date(scope, since)
    now = rectification(reader, scope, "all", cycle_median=False)["findings"][0]
    before = rectification(reader, earlier, "all", cycle_median=False)["findings"][0]
    return NewFindings(
        since,
        int(before or 0),
        int(now or 0),
        _grown(reader, scope, earlier, "round").rename({"group_key": "round_name"}),
        _grown(reader, scope, earlier, "category_l1")
        .rename({"group_key": "category_l1"})
        .join(l1_names(reader), on="category_l1", how="left")
        .select("category_l1", "l1_name", "new"),
    )


def _grown(reader: Reader, scope: Scope, earlier: Scope, by: str) -> pl.DataFrame:
    """Groups whose findings grew between the two scopes' dates, most new first."""
    now = rectification(reader, scope, by, cycle_median=False).select("group_key", "findings")
    before = rectification(reader, earlier, by, cycle_median=False).select(
        "group_key", pl.col("findings").alias("before")
    )
    return (
        now.join(before, on="group_key", how="left")
        .with_columns((pl.col("findings") - pl.col("before").fill_null(0)).alias("new"))
        .filter(pl.col("new") > 0)
        .sort("new", descending=True, maintain_order=True)
        .select("group_key", "new")
    )


def l1_names(reader: Reader) -> pl.DataFrame:
    """category_l1 → l1_name."""
    return (
        reader.query("categories_list")
        .select("category_l1", "l1_name")
        .unique(subset="category_l1", keep="first")
    )


def default_since(as_of: dt.date, briefing_dates: list[dt.date]) -> dt.date:
    """The date "new since" starts from: the latest archived briefing's 统计截至 before the
    date asked, else SINCE_DAYS days before it."""
    earlier = [d for d in briefing_dates if d < as_of]
    return max(earlier) if earlier else as_of - dt.timedelta(days=SINCE_DAYS)


# -- KPI changes --------------------------------------------------------------------------

# The overview's KPI set: key → (label, kind). "rate" keys are rates in percent (their change
# is in percentage points), "clue" keys disclosure-controlled counts.
KPI: dict[str, tuple[str, str]] = {
    "rounds": ("巡察轮次", "count"),
    "units_inspected": ("被巡察单位", "count"),
    "findings": ("发现问题", "count"),
    "measures": ("整改措施", "count"),
    "completion_rate": (DEFINITIONS["completion_rate"].label, "rate"),
    "overdue_measures": ("逾期措施", "count"),
    "measures_long_term": ("长期坚持措施", "count"),
    "clues": ("问题线索", "clue"),
    "regulations": ("建章立制", "count"),
    "funds_wan": ("挽回资金（万元）", "money"),
}


@dataclass(frozen=True)
class Change:
    """One KPI now and before (None: not comparable, e.g. a clue count shown as a band)."""

    kind: str
    now: float | None
    before: float | None

    @property
    def diff(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        if self.kind in {"rate", "money"}:
            # Exact decimals: 80.10 − 80.00 is 0.10, not 0.0999….
            return float(Decimal(str(self.now)) - Decimal(str(self.before)))
        return self.now - self.before

    def shown(self, value: float) -> str:
        if self.kind == "rate":
            return format_rate(value)
        if self.kind == "money":
            return f"{value:,.2f}"
        return f"{int(value):,}"

    @property
    def text(self) -> str:
        """ "▲ 120（此前 2,353）"; rates in percentage points ("▼ 1.25 百分点（此前 80.00%）")."""
        if self.before is None:
            return "此前无可比数据"
        earlier = f"（此前 {self.shown(self.before)}）"
        diff = self.diff
        if diff is None:
            return "—" + earlier
        if diff == 0:
            return "持平" + earlier
        arrow = "▲" if diff > 0 else "▼"
        size = abs(diff)
        if self.kind == "rate":
            return f"{arrow} {size:.2f} 百分点{earlier}"
        if self.kind == "money":
            return f"{arrow} {size:,.2f}{earlier}"
        return f"{arrow} {int(size):,}{earlier}"


def _value(kpi: dict[str, Any], key: str, kind: str) -> float | None:
    if kind == "rate":
        value = DEFINITIONS[key].compute(kpi)
        return None if value is None else float(value)
    if kind == "clue":
        shown = kpi[key]
        return float(shown.low) if isinstance(shown, disclosure.Shown) and shown.exact else None
    if kind == "money":
        return float(kpi[key] or 0)
    return float(int(kpi[key] or 0))


def kpi_changes(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Change]:
    """Each KPI of `KPI` now and before (two answers of figures.overview)."""
    return {
        key: Change(kind, _value(now, key, kind), _value(before, key, kind))
        for key, (_, kind) in KPI.items()
    }


# -- 对比分析 ----------------------------------------------------------------------------------


def round_scope(reader: Reader, scope: Scope, round_id: int) -> Scope:
    """The scope narrowed to one round's inspections (of those it holds)."""
    rounds = reader.query(
        "scope_inspections",
        {
            "round_from": None,
            "round_to": None,
            "kinds": None,
            "sectors": None,
            "peer_groups": None,
            "unit_ids": None,
        },
    )
    of_round = set(rounds.filter(pl.col("round_id") == round_id)["inspection_id"].to_list())
    ids = tuple(i for i in scope.inspection_ids if i in of_round)
    return dataclasses.replace(scope, inspection_ids=ids)


@dataclass(frozen=True)
class RoundSide:
    """One round of a two-round comparison, each figure as its page computes it."""

    round_id: int
    round_name: str
    totals: dict[str, Any]  # rectification(…, "all") of the round alone
    by_category: pl.DataFrame  # category_l1, l1_name, findings, completion_rate
    by_unit: pl.DataFrame  # unit_name, findings, completion_rate, overdue_measures
    curve: pl.DataFrame  # progress_curve of the round, one point a day
    age: int | None  # the curve's last day (the round's age in days as of the date)

    def completion_at(self, day: int, key: str = "completion_rate") -> float | None:
        """The curve's rate on `day` after 反馈 (None: the round has not reached it)."""
        point = self.curve.filter(pl.col("day") == day)
        return None if point.is_empty() else point[key][0]


def round_side(reader: Reader, scope: Scope, round_id: int) -> RoundSide:
    one = round_scope(reader, scope, round_id)
    totals = rectification(reader, one, "all", cycle_median=False).row(0, named=True)
    by_category = (
        rectification(reader, one, "category_l1", cycle_median=False)
        .rename({"group_key": "category_l1"})
        .join(l1_names(reader), on="category_l1", how="left")
        .select("category_l1", "l1_name", "findings", "completion_rate")
    )
    by_unit = (
        rectification(reader, one, "unit", cycle_median=False)
        .rename({"group_key": "unit_name"})
        .select("unit_name", "findings", "completion_rate", "overdue_measures")
        .sort("findings", descending=True, maintain_order=True)
    )
    curve = progress_curve(reader, one, step=1).filter(pl.col("round_id") == round_id)
    name = reader.query("rounds_list").filter(pl.col("round_id") == round_id)["name"]
    age = int(curve["day"].max()) if not curve.is_empty() else None  # type: ignore[arg-type]
    return RoundSide(
        round_id, str(name[0]) if name.len() else "", totals, by_category, by_unit, curve, age
    )


def categories_side_by_side(a: RoundSide, b: RoundSide) -> pl.DataFrame:
    """Findings by L1 category of the two rounds, with the difference (b − a)."""
    left = a.by_category.select("category_l1", "l1_name", pl.col("findings").alias("a"))
    right = b.by_category.select("category_l1", "l1_name", pl.col("findings").alias("b"))
    return (
        left.join(right, on=["category_l1", "l1_name"], how="full", coalesce=True)
        .with_columns(pl.col("a").fill_null(0), pl.col("b").fill_null(0))
        .with_columns((pl.col("b") - pl.col("a")).alias("diff"))
        .sort("category_l1")
    )


# Rows of the two-date comparison of the by-round table: column → kind.
ROUND_COLUMNS: dict[str, str] = {
    "findings": "count",
    "findings_done": "count",
    "completion_rate": "rate",
    "overdue_measures": "count",
    "on_time_rate": "rate",
}


def kpi_at_dates(reader: Reader, scope: Scope, date_a: dt.date, date_b: dt.date) -> pl.DataFrame:
    """The overview's KPI set at two dates: figure, a, b, diff (rates in percent, their
    difference in percentage points; a clue count shown as a band has no number)."""
    changes = kpi_changes(
        overview(reader, at_date(scope, date_b)), overview(reader, at_date(scope, date_a))
    )
    return pl.DataFrame(
        {
            "figure": [KPI[k][0] + ("(%)" if c.kind == "rate" else "") for k, c in changes.items()],
            "a": [c.before for c in changes.values()],
            "b": [c.now for c in changes.values()],
            "diff": [c.diff for c in changes.values()],
        },
        schema={"figure": pl.String, "a": pl.Float64, "b": pl.Float64, "diff": pl.Float64},
    )


def rounds_at_dates(reader: Reader, scope: Scope, date_a: dt.date, date_b: dt.date) -> pl.DataFrame:
    """figures.rectification by round at two dates side by side: round_name, then for each
    column of ROUND_COLUMNS its value at a, at b and the difference (b − a; rates in
    percentage points), rounds in their order."""
    cols = list(ROUND_COLUMNS)
    keys = ("group_id", "group_key", "group_order")
    at_a = rectification(reader, at_date(scope, date_a), "round", cycle_median=False).select(
        *keys, *(pl.col(c).alias(f"{c}_a") for c in cols)
    )
    at_b = rectification(reader, at_date(scope, date_b), "round", cycle_median=False).select(
        *keys, *(pl.col(c).alias(f"{c}_b") for c in cols)
    )
    # A round fed back between the two dates is in one answer only: its other counts are 0.
    joined = (
        at_a.join(at_b, on=list(keys), how="full", coalesce=True)
        .with_columns(
            pl.col(f"{c}{side}").fill_null(0)
            for c, kind in ROUND_COLUMNS.items()
            if kind == "count"
            for side in ("_a", "_b")
        )
        .sort("group_order", nulls_last=True)
    )
    diffs = []
    for c, kind in ROUND_COLUMNS.items():
        diff = pl.col(f"{c}_b") - pl.col(f"{c}_a")
        diffs.append((diff.round(2) if kind == "rate" else diff).alias(f"{c}_diff"))
    ordered = [x for c in cols for x in (f"{c}_a", f"{c}_b", f"{c}_diff")]
    return (
        joined.with_columns(*diffs)
        .rename({"group_key": "round_name"})
        .select("round_name", *ordered)
    )
