"""回头看候选: the units to revisit, ranked by a stated rule, each with its reasons and figures.

Commissions decide 回头看 targets from the 整改成效评估 and what rectification left behind
(DOMAIN.md §1, 江津 puts every unit graded 差 on its list). This module draws up that list
for the units the scope can see, as of the scope's date (a past date replays the list then):

- The basis of every unit is its latest inspection in scope (by round order) whose round's
  rectification period had ended by the scope's date (`periods.round_periods`, the store's
  rule, the definition `periods.finished_rounds` reads): a 回头看 inside the rectification
  period makes no sense, and the grades of such a round are only 暂评. Units whose
  inspections are all still in their period are not listed; a unit with a later inspection
  still in its period is marked ("十四届第七轮整改期内（至 2026-12-31）", column in_period)
  and ranked like any other unit on its basis.
- Reasons and their points (the rule, xuncha/revisit_default.toml, overridable per store in
  STORE/config/revisit.toml; `RevisitRule.describe` states it in Chinese):
  1. 成效评估: the unit's latest graded 整改成效评估 among its inspections up to the basis —
     差 or 一般 scores, 一票否决 scores instead of the grade; provisional (暂评) grades count,
     marked. Only when an evaluation is given: without one the reason is left out.
  2. 反弹: the basis inspection's 反弹 is significant (显著反弹): the ecology configuration's
     rebound cap, a 反弹率 above `rebound_rate_above` with at least
     `rebound_findings_at_least` 反弹 findings, carried by the rule (one definition).
  3. 逾期: the overdue rate of the basis inspection's measures, points per full 10 points.
  4. 距上次巡察: full years since the unit's latest 反馈日期 (of any inspection fed back by the
     date, in its period or not: a unit inspected months ago has not gone years uninspected)
     beyond a number of years.
  5. 政治生态 (研判参考): the basis round's ecology grade is 差 (`poor`), or it fell against the
     unit's previous one (下降, `declining`) without reaching 差; a fall to 差 is one fact and
     scores the larger of the two. Reasons from a 暂评 grade say 暂评.
  Figures come from their single definitions: 反弹, 逾期 from `rectification(by="round_unit")`
  (DOMAIN.md §5), the ecology grade and trend from `score_trend` and `grade_movement` (§6).
- A unit inspected in a 回头看 round after its latest other inspection (begun by the date, in
  scope) is marked 已回头看; it is ranked like any other unit, the mark informs the decision.
- Order: total points descending, then the earliest latest 反馈日期 (as in 4), then the name;
  units below the rule's minimum total are not listed. The rank is the position in that order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from xuncha.figures import periods
from xuncha.figures.ecology import (
    GRADES,
    TRENDS,
    config_for_store,
    grade_movement,
    score_trend,
)
from xuncha.figures.ecology import (
    LABEL as ECOLOGY_LABEL,
)
from xuncha.figures.periods import PROVISIONAL
from xuncha.figures.rectification import rectification
from xuncha.figures.revisit_rule import RevisitRule
from xuncha.filters import Scope
from xuncha.store.reader import Reader

REVISIT_KIND = "回头看"
DECLINING = TRENDS[2]  # 下降
AVERAGE, POOR = GRADES[2], GRADES[3]  # 一般, 差
NO_EVALUATION = "成效评估尚未开展"
NO_EVALUATION_NOTE = "成效评估尚未开展：名单未计入整改成效评估等次这一理由。"
NO_GRADED_EVALUATION_NOTE = (
    "范围内尚无评定等次的整改成效评估（人工评分项全部确认后才评定等次）："
    "名单未计入整改成效评估等次这一理由。"
)

COLUMNS: dict[str, pl.DataType] = {
    "rank": pl.Int64(),
    "unit_id": pl.Int64(),
    "unit_name": pl.String(),
    "short_name": pl.String(),
    "peer_group": pl.String(),
    "sector": pl.String(),
    "points": pl.Float64(),
    "reasons": pl.List(pl.String),
    "last_round": pl.String(),
    "last_feedback": pl.Date(),
    "months_since": pl.Int64(),
    "since_text": pl.String(),
    "since_points": pl.Float64(),
    "evaluation_round": pl.String(),
    "evaluation": pl.String(),
    "evaluation_points": pl.Float64(),
    "findings": pl.Int64(),
    "rebound_findings": pl.Int64(),
    "rebound_rate": pl.Float64(),
    "rebound_points": pl.Float64(),
    "measures": pl.Int64(),
    "overdue_measures": pl.Int64(),
    "overdue_rate": pl.Float64(),
    "overdue_points": pl.Float64(),
    "ecology_grade": pl.String(),
    "ecology_trend": pl.String(),
    "ecology_points": pl.Float64(),
    "revisited": pl.String(),
    "in_period": pl.String(),
}


def evaluation_note(evaluation: pl.DataFrame | None) -> str | None:
    """What the list says about the 整改成效评估 reason: None when at least one unit of the
    scope has a graded (or vetoed) evaluation, else why the reason counts for nobody."""
    if evaluation is None:
        return NO_EVALUATION_NOTE
    graded = evaluation.filter(pl.col("grade").is_not_null() | pl.col("vetoed").fill_null(False))
    return None if graded.height else NO_GRADED_EVALUATION_NOTE


def revisit_candidates(
    reader: Reader,
    scope: Scope,
    rule: RevisitRule | None = None,
    *,
    evaluation: pl.DataFrame | None = None,
    today: dt.date | None = None,
    ecology_trend: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The ranked 回头看 candidates (columns COLUMNS, best candidate first).

    rule: None reads the store's rule (or the default) with the store's 显著反弹 level.
    evaluation: the 整改成效评估 grades
    (unit_id, round_id, grade 好/较好/一般/差 or None, vetoed, provisional), None when none is
    available: the reason is then left out. today: the date "time since the last
    inspection" is counted to (default: the scope's date). ecology_trend: the output of
    `score_trend` for this scope when the caller already has it (None: computed here with
    the store's ecology configuration)."""
    rule = rule or RevisitRule.for_store(reader.store.root)
    inspections = reader.query(
        "revisit_inspections", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    ).with_columns(pl.col(c).cast(pl.Int64) for c in ("round_id", "unit_id", "seq"))
    fed = inspections.filter(pl.col("fed_back"))
    if fed.is_empty():
        return pl.DataFrame(schema=COLUMNS)
    rounds = periods.round_periods(
        reader, scope.ids_param(), scope.as_of, periods.rule_for_store(reader.store.root)
    ).select(pl.col("round_id").cast(pl.Int64), "finished", "period_end")
    fed = fed.join(rounds, on="round_id", how="left").with_columns(
        pl.col("finished").fill_null(False)
    )
    done = fed.filter(pl.col("finished"))
    if done.is_empty():
        return pl.DataFrame(schema=COLUMNS)
    basis = done.sort("seq").group_by("unit_id", maintain_order=True).last()
    latest = (
        fed.sort("seq")
        .group_by("unit_id")
        .last()
        .select(
            "unit_id",
            pl.col("round_name").alias("_since_round"),
            pl.col("feedback_date").alias("_since_date"),
        )
    )
    basis = (
        basis.join(latest, on="unit_id", how="left")
        .join(_rectification(reader, scope), on=["round_id", "unit_id"], how="left")
        .join(_revisited(inspections), on="unit_id", how="left")
        .join(_in_period(fed, basis), on="unit_id", how="left")
        .join(_ecology(reader, scope, basis, ecology_trend), on="unit_id", how="left")
    )
    if evaluation is not None:
        basis = basis.join(_evaluation(evaluation, done), on="unit_id", how="left")
    on = today or scope.as_of
    rows = [_scored(row, rule, on, evaluation is not None) for row in basis.iter_rows(named=True)]
    listed = [r for r in rows if r["points"] >= rule.min_points and r["points"] > 0]
    listed.sort(key=lambda r: (-r["points"], r["_since_date"], r["unit_name"]))
    for rank, row in enumerate(listed, start=1):
        row["rank"] = rank
        del row["_since_date"]
    return pl.DataFrame(listed, schema=COLUMNS)


def _rectification(reader: Reader, scope: Scope) -> pl.DataFrame:
    """反弹 and 逾期 of each inspection (round and unit), from the §5 figures."""
    rect = rectification(reader, scope, by="round_unit", cycle_median=False)
    parts = rect["group_id"].str.split_exact("/", 1)
    return rect.select(
        parts.struct.field("field_0").cast(pl.Int64).alias("round_id"),
        parts.struct.field("field_1").cast(pl.Int64).alias("unit_id"),
        pl.col("findings").cast(pl.Int64),
        pl.col("rebound_findings").cast(pl.Int64),
        "rebound_rate",
        pl.col("measures").cast(pl.Int64),
        pl.col("overdue_measures").cast(pl.Int64),
        "overdue_rate",
    )


def _revisited(inspections: pl.DataFrame) -> pl.DataFrame:
    """Per unit, the 回头看 round begun after its latest other inspection fed back (the
    latest such round; "（进行中）" when not fed back by the date)."""
    others = (
        inspections.filter(pl.col("fed_back") & (pl.col("kind") != REVISIT_KIND))
        .group_by("unit_id")
        .agg(pl.col("seq").max().alias("_after"))
    )
    return (
        inspections.filter(pl.col("kind") == REVISIT_KIND)
        .join(others, on="unit_id", how="left")
        .filter(pl.col("_after").is_null() | (pl.col("seq") > pl.col("_after")))
        .sort("seq")
        .group_by("unit_id")
        .last()
        .select(
            "unit_id",
            pl.concat_str(
                pl.lit("已于"),
                pl.col("round_name"),
                pl.lit("回头看"),
                pl.when(pl.col("fed_back")).then(pl.lit("")).otherwise(pl.lit("（进行中）")),
            ).alias("revisited"),
        )
    )


def _in_period(fed: pl.DataFrame, basis: pl.DataFrame) -> pl.DataFrame:
    """Per unit, its inspections fed back after its basis whose round is still in its
    rectification period, as users read them ("十四届第七轮整改期内（至 2026-12-31）")."""
    after = basis.select("unit_id", pl.col("seq").alias("_basis_seq"))
    return (
        fed.filter(~pl.col("finished"))
        .join(after, on="unit_id", how="inner")
        .filter(pl.col("seq") > pl.col("_basis_seq"))
        .sort("seq")
        .group_by("unit_id", maintain_order=True)
        .agg(
            pl.concat_str(
                pl.col("round_name"),
                pl.lit("整改期内"),
                pl.when(pl.col("period_end").is_not_null())
                .then(pl.format("（至 {}）", pl.col("period_end").dt.strftime("%Y-%m-%d")))
                .otherwise(pl.lit("")),
            )
            .str.join("、")
            .alias("in_period")
        )
    )


def _ecology(
    reader: Reader, scope: Scope, basis: pl.DataFrame, trend: pl.DataFrame | None
) -> pl.DataFrame:
    """The ecology grade of each unit's latest inspection and its movement (grade_movement)."""
    if trend is None:
        trend = score_trend(reader, scope, config_for_store(reader.store.root))
    parts = []
    for (round_id,), units in basis.partition_by("round_id", as_dict=True).items():
        moved = grade_movement(trend, int(round_id))
        provisional = (
            pl.col("provisional")
            if "provisional" in moved.columns
            else pl.col("grade_label").str.contains(PROVISIONAL, literal=True)
        )
        parts.append(
            moved.filter(pl.col("unit_id").cast(pl.Int64).is_in(units["unit_id"].to_list())).select(
                pl.col("unit_id").cast(pl.Int64),
                pl.col("grade").alias("ecology_grade_value"),
                pl.col("grade_label").alias("ecology_grade"),
                provisional.fill_null(False).alias("ecology_provisional"),
                pl.col("previous_grade").alias("ecology_previous"),
                pl.col("trend").alias("ecology_trend"),
            )
        )
    schema = {
        "unit_id": pl.Int64,
        "ecology_grade_value": pl.String,
        "ecology_grade": pl.String,
        "ecology_provisional": pl.Boolean,
        "ecology_previous": pl.String,
        "ecology_trend": pl.String,
    }
    return pl.concat([pl.DataFrame(schema=schema), *parts], how="vertical_relaxed")


def _evaluation(evaluation: pl.DataFrame, done: pl.DataFrame) -> pl.DataFrame:
    """Each unit's latest graded (or vetoed) evaluation among its inspections in scope past
    their rectification period (its basis and before): rows of other units or rounds are not
    the scope's, or not yet a basis, and are dropped."""
    rounds = done.select("unit_id", "round_id", "seq", pl.col("round_name").alias("_rname"))
    graded = (
        evaluation.with_columns(
            pl.col("unit_id").cast(pl.Int64),
            pl.col("round_id").cast(pl.Int64),
            pl.col("vetoed").fill_null(False),
            pl.col("provisional").fill_null(False),
            (
                pl.col("small_sample").fill_null(False)
                if "small_sample" in evaluation.columns
                else pl.lit(False)
            ).alias("small_sample"),
        )
        .join(rounds, on=["unit_id", "round_id"], how="inner")
        .filter(pl.col("grade").is_not_null() | pl.col("vetoed"))
        .sort("seq")
        .group_by("unit_id")
        .last()
    )
    return graded.select(
        "unit_id",
        pl.col("_rname").alias("evaluation_round"),
        pl.col("grade").alias("_eval_grade"),
        pl.col("vetoed").alias("_eval_vetoed"),
        pl.col("provisional").alias("_eval_provisional"),
        pl.col("small_sample").alias("_eval_small_sample"),
    )


def _scored(row: dict[str, Any], rule: RevisitRule, on: dt.date, evaluated: bool) -> dict[str, Any]:
    """One unit's points and reasons under `rule`."""
    reasons: list[str] = []

    def scored(points: float, text: str) -> float:
        if points > 0:
            reasons.append(f"{text}，计 {points:g} 分")
        return points

    # 1. 整改成效评估
    evaluation_text, evaluation_points = (None, 0.0)
    if evaluated and (row.get("_eval_grade") is not None or row.get("_eval_vetoed")):
        note = "，暂评" if row["_eval_provisional"] else ""
        where = f"（{row['evaluation_round']}{note}）"
        if row["_eval_vetoed"]:
            evaluation_text = "一票否决" + ("（暂评）" if note else "")
            evaluation_points = scored(rule.evaluation_veto, f"整改成效评估一票否决{where}")
        else:
            grade = row["_eval_grade"]
            evaluation_text = grade + ("（暂评）" if note else "")
            if row.get("_eval_small_sample"):
                # Fewer findings than the sample line: the grade is for reference only.
                evaluation_text += "（样本不足，仅供参考，未计分）"
            else:
                points = {POOR: rule.evaluation_poor, AVERAGE: rule.evaluation_average}.get(
                    grade, 0.0
                )
                evaluation_points = scored(points, f"整改成效评估为“{grade}”{where}")
    # 2. 反弹
    rebound = int(row.get("rebound_findings") or 0)
    rebound_points = 0.0
    rebound_rate = row.get("rebound_rate")
    if rebound >= rule.rebound_findings_at_least and (rebound_rate or 0) > rule.rebound_rate_above:
        rebound_points = scored(
            rule.rebound_points,
            f"反弹问题 {rebound} 个，占 {_pct(rebound_rate)}，超过{rule.significant_rebound()}",
        )
    # 3. 逾期
    overdue = int(row.get("overdue_measures") or 0)
    overdue_rate = row.get("overdue_rate")
    tens = int(overdue_rate // 10) if overdue_rate is not None else 0
    overdue_points = scored(
        tens * rule.overdue_points_per_10, f"逾期措施 {overdue} 项（占 {_pct(overdue_rate)}）"
    )
    # 4. 距上次巡察
    since_date = row["_since_date"]
    months = months_between(since_date, on)
    since_text = f"距上次巡察 {_duration(months)}"
    beyond = max(0, months // 12 - rule.since_after_years)
    since_points = scored(
        beyond * rule.since_points_per_year,
        f"{since_text}（{row['_since_round']}，反馈于 {since_date.isoformat()}）",
    )
    # 5. 政治生态（研判参考）: 差 and 下降 are exclusive, a fall to 差 scores the larger.
    ecology_points = 0.0
    poor = row.get("ecology_grade_value") == POOR
    declining = row.get("ecology_trend") == DECLINING
    tentative = f"{PROVISIONAL}，" if row.get("ecology_provisional") else ""
    moved = f"{row.get('ecology_previous')}→{row.get('ecology_grade')}，{ECOLOGY_LABEL}"
    if poor and declining:
        ecology_points = scored(
            max(rule.ecology_poor, rule.ecology_declining),
            f"政治生态等次降至“{POOR}”（{moved}）",
        )
    elif poor:
        ecology_points = scored(
            rule.ecology_poor, f"政治生态等次为“{POOR}”（{tentative}{ECOLOGY_LABEL}）"
        )
    elif declining:
        ecology_points = scored(rule.ecology_declining, f"政治生态等次下降（{moved}）")
    total = evaluation_points + rebound_points + overdue_points + since_points + ecology_points
    return {
        "rank": None,
        "unit_id": int(row["unit_id"]),
        "unit_name": row["unit_name"],
        "short_name": row["short_name"],
        "peer_group": row["peer_group"],
        "sector": row["sector"],
        "points": float(total),
        "reasons": reasons,
        "last_round": row["round_name"],
        "last_feedback": row["feedback_date"],
        "months_since": months,
        "since_text": since_text,
        "since_points": float(since_points),
        "evaluation_round": row.get("evaluation_round") if evaluation_text else None,
        "evaluation": evaluation_text if evaluated else NO_EVALUATION,
        "evaluation_points": float(evaluation_points),
        "findings": int(row.get("findings") or 0),
        "rebound_findings": rebound,
        "rebound_rate": rebound_rate,
        "rebound_points": float(rebound_points),
        "measures": int(row.get("measures") or 0),
        "overdue_measures": overdue,
        "overdue_rate": overdue_rate,
        "overdue_points": float(overdue_points),
        "ecology_grade": row.get("ecology_grade"),
        "ecology_trend": row.get("ecology_trend"),
        "ecology_points": float(ecology_points),
        "revisited": row.get("revisited"),
        "in_period": row.get("in_period"),
        "_since_date": since_date,
    }


def months_between(start: dt.date, end: dt.date) -> int:
    """Full calendar months from `start` to `end` (0 when end is not later)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day and not _month_end(end):
        months -= 1
    return max(0, months)


def _month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).month != day.month


def _duration(months: int) -> str:
    years, rest = divmod(months, 12)
    if years and rest:
        return f"{years} 年 {rest} 个月"
    if years:
        return f"{years} 年"
    return f"{rest} 个月"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"
