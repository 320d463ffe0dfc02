"""The 整改成效评估 of each unit in each round: automatic items pre-filled from the figures,
manual items as confirmed by a second person, 一票否决, total, grade and 暂评.

METHOD below is the same text in Chinese for users (the page's 说明, exports, archives).

- One evaluation per inspection (a unit in a round), over all of its findings: the global
  category filters do not apply (a unit's rectification is evaluated whole).
- Automatic items read the figures, never a definition of their own: the rates and counts
  of `figures.rectification(by="round_unit")` (DOMAIN.md §5), the 退回次数 of
  `figures.online.online_by_unit` for the round (§8), the 建章立制 of the outcome record.
  Each item's points are rounded to two decimals half up; the score is their sum.
- A manual item counts the value of its latest confirmed entry (confirmed on or before the
  date); entries awaiting confirmation are shown as 待确认 and not counted. The grade is
  given only when every manual item has a confirmed value (else 待人工评分, no grade), or
  when a 一票否决 item is confirmed as 成立: then the grade is 差 whatever the points.
- A unit without findings in the round is not evaluated (no score, no grade).
- 样本不足: a unit with fewer findings than the ecology configuration's `min_findings` (one
  threshold for every ranking and score) is marked `small_sample` with a note; it keeps its
  score and grade (a 评估办法 evaluates every inspected unit), which are for reference only.
- 暂评: the round's rectification period (figures.periods) had not ended on the date.
- 表面整改 vs 实质整改: the unit's self-reported measure completion — measures DONE plus
  measures it reports as 基本完成/阶段性完成 or has claimed done online still awaiting review
  or 销号 — against 措施完成率 (DONE measures only), both over the unit's measures, with
  the gap in percentage points. Returned claims are not counted as claimed (the unit knows
  they were not accepted).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl

from xuncha.evaluation.config import (
    COUNT_SOURCES,
    RATE_SOURCES,
    VETO_GRADE,
    EvaluationConfig,
    EvaluationConfigError,
    config_for_store,
)
from xuncha.figures import ecology
from xuncha.figures.online import online_by_unit
from xuncha.figures.periods import PROVISIONAL, PeriodRule, round_periods, rule_for_store
from xuncha.figures.rates import DEFINITIONS, rate
from xuncha.figures.rectification import rectification
from xuncha.filters import Scope
from xuncha.store.reader import Reader

LABEL = "整改成效评估"
PENDING_MANUAL = "待人工评分"
NOT_EVALUATED = "无问题，不评估"
SMALL_SAMPLE = ecology.SMALL_SAMPLE
KIND_LABELS = {"auto": "自动", "manual": "人工", "veto": "一票否决"}
SELF_REPORTED_DEFINITION = (
    "自报完成率：（已完成措施数 + 单位报为基本完成/阶段性完成或已在线报完成、尚待审核或销号的措施数）"
    "÷ 措施数；与措施完成率（仅已完成措施）之差即表面整改与实质整改的差距（百分点）。"
    "已被退回的完成申请不计入自报。"
)
METHOD = f"""\
- 评估对象：每轮巡察的每个被巡察单位（一次巡察），范围为该单位本轮全部问题和措施，不受类别筛选影响。
- 自动评分项按整改进度页的同一口径计算：比率项得分 = 满分 × 比率，扣分项每个扣若干分、扣完为止，
  建章立制按达到目标数的比例得分。每项得分四舍五入到两位小数，总分为各项之和。
- 人工评分项（满意度测评、实地查看、群众评判等）由巡察办或监督检查室录入分值、依据和佐证材料，
  **经另一人确认后才计入**；待确认的录入显示为“待确认”，不计分。人工评分项未全部确认时不评等次（{PENDING_MANUAL}）。
- 一票否决项（虚假整改、敷衍整改等）录入为“成立”并经另一人确认后，等次为“差”，不论得分。
- 本轮整改期尚未结束时的评估为“{PROVISIONAL}”：完成一项措施，得分就会变化。
- 没有问题的单位不评估。
- 问题数少于样本线（与政治生态研判参考的样本线相同，默认 5 个）的单位标注“{SMALL_SAMPLE}”：
  评估覆盖每个被巡察单位，仍按本办法评分、定等次，但等次仅供参考。
- {SELF_REPORTED_DEFINITION}
"""

_UNIT_SCHEMA: dict[str, Any] = {
    "inspection_id": pl.Int64,
    "round_id": pl.Int64,
    "round_name": pl.String,
    "seq": pl.Int64,
    "unit_id": pl.Int64,
    "unit_name": pl.String,
    "findings": pl.Int64,
    "small_sample": pl.Boolean,
    "measures": pl.Int64,
    "auto_points": pl.Float64,
    "manual_points": pl.Float64,
    "deductions": pl.Float64,
    "score": pl.Float64,
    "grade": pl.String,
    "vetoed": pl.Boolean,
    "veto_items": pl.String,
    "complete": pl.Boolean,
    "pending_entries": pl.Int64,
    "provisional": pl.Boolean,
    "period_end": pl.Date,
    "completion_rate": pl.Float64,
    "measure_completion_rate": pl.Float64,
    "self_reported_rate": pl.Float64,
    "completion_gap": pl.Float64,
    "note": pl.String,
}
_ITEM_SCHEMA: dict[str, Any] = {
    "inspection_id": pl.Int64,
    "round_id": pl.Int64,
    "unit_id": pl.Int64,
    "unit_name": pl.String,
    "item": pl.String,
    "label": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "basis": pl.String,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
    "value": pl.Float64,
    "max_points": pl.Float64,
    "points": pl.Float64,
    "status": pl.String,
    "entry_id": pl.Int64,
}
GRADE_COLUMNS = (
    "unit_id",
    "unit_name",
    "round_id",
    "round_name",
    "score",
    "grade",
    "vetoed",
    "provisional",
)
_EVALUATION_TABLES = ("evaluation_entries", "evaluation_entry_evidence", "evaluation_decisions")


@dataclass(frozen=True)
class Evaluation:
    """Results on one data version as of one date: `units` one row per inspection (columns
    of _UNIT_SCHEMA plus `<item>_points` per item), `items` one row per inspection and item,
    `entries` the manual entries in scope (every state)."""

    units: pl.DataFrame
    items: pl.DataFrame
    entries: pl.DataFrame
    config: EvaluationConfig
    rule: PeriodRule
    as_of: dt.date
    data_version: int
    min_findings: int = 5


def small_sample_note(min_findings: int) -> str:
    """The note of a 样本不足 unit, with the threshold in force."""
    return f"问题少于 {min_findings} 个，{SMALL_SAMPLE}，等次仅供参考"


def min_findings_for_store(store_root: Any) -> int:
    """The 样本线 of the store: the ecology configuration's, so that every ranking and score
    has one definition (EvaluationConfigError in Chinese when it cannot be read)."""
    try:
        return int(ecology.config_for_store(store_root).min_findings)
    except ecology.EcologyConfigError as exc:
        raise EvaluationConfigError(f"样本线取自政治生态研判参考配置，该配置有误：{exc}") from None


def _half_up(value: Decimal | float | int) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def has_tables(reader: Reader, tables: tuple[str, ...] = _EVALUATION_TABLES) -> bool:
    """False on a data version written before migration 6 (no manual entries yet)."""
    found = reader.scalar(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name IN"
        " (SELECT unnest($tables::VARCHAR[]))",
        {"tables": list(tables)},
    )
    return int(found or 0) == len(tables)


def _whole(scope: Scope) -> Scope:
    return dataclasses.replace(scope, category_l1=None, category_l2=None)


def _narrowed(scope: Scope, ids: list[int]) -> Scope:
    return dataclasses.replace(scope, inspection_ids=tuple(sorted(ids)))


def entries_frame(reader: Reader, scope: Scope) -> pl.DataFrame:
    """The manual entries in scope as of the scope's date (empty before migration 6)."""
    params = {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    if not has_tables(reader):
        return _no_entries()
    return reader.query("evaluation_entries", params)


def _no_entries() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "entry_id": pl.Int32,
            "inspection_id": pl.Int32,
            "round_id": pl.Int32,
            "unit_id": pl.Int32,
            "unit_name": pl.String,
            "item": pl.String,
            "value": pl.Float64,
            "note": pl.String,
            "entered_by": pl.String,
            "entered_at": pl.Datetime,
            "entered_on": pl.Date,
            "decision": pl.String,
            "reason": pl.String,
            "decided_by": pl.String,
            "decided_on": pl.Date,
            "evidence_names": pl.List(pl.String),
            "evidence_sha256": pl.List(pl.String),
        }
    )


def evaluate(
    reader: Reader,
    scope: Scope,
    config: EvaluationConfig | None = None,
    *,
    rule: PeriodRule | None = None,
    round_id: int | None = None,
    min_findings: int | None = None,
) -> Evaluation:
    """The evaluation of every unit inspected in scope (or in `round_id` only) and fed back by
    the scope's date; config, rule and the 样本线 default to the store's (STORE/config/)."""
    config = config or config_for_store(reader.store.root)
    rule = rule or rule_for_store(reader.store.root)
    if min_findings is None:
        min_findings = min_findings_for_store(reader.store.root)
    scope = _whole(scope)
    base = reader.query(
        "evaluation_inspections", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    )
    if round_id is not None:
        base = base.filter(pl.col("round_id") == round_id)
    ids = [int(i) for i in base["inspection_id"].to_list()]
    if not ids:
        return Evaluation(
            pl.DataFrame(schema=_UNIT_SCHEMA),
            pl.DataFrame(schema=_ITEM_SCHEMA),
            _no_entries(),
            config,
            rule,
            scope.as_of,
            reader.version,
            min_findings,
        )
    scope = _narrowed(scope, ids)
    counts = {
        str(r["group_id"]): r
        for r in rectification(reader, scope, "round_unit", cycle_median=False).iter_rows(
            named=True
        )
    }
    returns: dict[tuple[int, int], int] = {}
    for rid, part in base.group_by("round_id"):
        online = online_by_unit(reader, _narrowed(scope, part["inspection_id"].to_list()))
        for row in online.iter_rows(named=True):
            returns[(int(rid[0]), int(row["unit_id"]))] = int(row["returns"] or 0)
    claims = {
        int(r["inspection_id"]): int(r["claimed_not_done"])
        for r in reader.query(
            "evaluation_claims", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
        ).iter_rows(named=True)
    }
    periods = {
        int(r["round_id"]): r
        for r in round_periods(reader, scope.ids_param(), scope.as_of, rule).iter_rows(named=True)
    }
    entries = entries_frame(reader, scope)
    unit_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for row in base.iter_rows(named=True):
        key = f"{row['round_id']}/{row['unit_id']}"
        figures_row = dict(counts.get(key) or {})
        figures_row["returns"] = returns.get((int(row["round_id"]), int(row["unit_id"])), 0)
        figures_row["regulations"] = row["regulations"]
        mine = entries.filter(pl.col("inspection_id") == row["inspection_id"])
        unit, items = _score_unit(row, figures_row, mine, claims, periods, config, min_findings)
        unit_rows.append(unit)
        item_rows.extend(items)
    units = pl.DataFrame(unit_rows, schema=_UNIT_SCHEMA)
    items_frame = pl.DataFrame(item_rows, schema=_ITEM_SCHEMA)
    wide = (
        items_frame.filter(pl.col("kind") != KIND_LABELS["veto"])
        .select("inspection_id", (pl.col("item") + "_points").alias("key"), "points")
        .pivot(on="key", index="inspection_id", values="points")
    )
    order = [f"{i.key}_points" for i in config.scored_items()]
    units = units.join(wide.select("inspection_id", *order), on="inspection_id", how="left")
    return Evaluation(
        units, items_frame, entries, config, rule, scope.as_of, reader.version, min_findings
    )


def _score_unit(
    row: dict[str, Any],
    counts: dict[str, Any],
    entries: pl.DataFrame,
    claims: dict[int, int],
    periods: dict[int, dict[str, Any]],
    config: EvaluationConfig,
    min_findings: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    inspection = int(row["inspection_id"])
    findings = int(counts.get("findings") or 0)
    measures = int(counts.get("measures") or 0)
    head = {
        "inspection_id": inspection,
        "round_id": int(row["round_id"]),
        "unit_id": int(row["unit_id"]),
        "unit_name": row["unit_name"],
    }
    items: list[dict[str, Any]] = []
    auto_total = deductions = Decimal(0)
    for item in config.auto:
        points, basis, num, den, value = _auto_points(item, counts)
        auto_total += Decimal(str(points))
        if item.method == "deduct":
            deductions += Decimal(str(item.points)) - Decimal(str(points))
        items.append(
            {
                **head,
                "item": item.key,
                "label": item.label,
                "kind": KIND_LABELS["auto"],
                "rule": item.rule(),
                "basis": basis,
                "numerator": num,
                "denominator": den,
                "value": value,
                "max_points": item.points,
                "points": points,
                "status": "自动计算",
                "entry_id": None,
            }
        )
    manual_total = Decimal(0)
    complete = True
    for manual in config.manual:
        counted, status, entry_id = _counted(entries, manual.key)
        if counted is None:
            complete = False
        points = _half_up(counted) if counted is not None else 0.0
        manual_total += Decimal(str(points))
        items.append(
            {
                **head,
                "item": manual.key,
                "label": manual.label,
                "kind": KIND_LABELS["manual"],
                "rule": f"满分 {manual.points:g} 分，录入后经另一人确认计入",
                "basis": status,
                "numerator": None,
                "denominator": None,
                "value": counted,
                "max_points": manual.points,
                "points": points,
                "status": status,
                "entry_id": entry_id,
            }
        )
    vetoes: list[str] = []
    for veto in config.veto:
        counted, status, entry_id = _counted(entries, veto.key)
        status = status.replace("（不计分）", "")
        if counted == 1:
            vetoes.append(veto.label)
        shown = {1: "成立", 0: "不成立"}.get(int(counted)) if counted is not None else None
        items.append(
            {
                **head,
                "item": veto.key,
                "label": veto.label,
                "kind": KIND_LABELS["veto"],
                "rule": "确认成立的，等次为“差”，不论得分",
                "basis": f"{shown}（{status}）" if shown else status,
                "numerator": None,
                "denominator": None,
                "value": counted,
                "max_points": None,
                "points": None,
                "status": status,
                "entry_id": entry_id,
            }
        )
    period = periods.get(int(row["round_id"]))
    provisional = period is None or not bool(period["finished"])
    notes: list[str] = []
    if findings == 0:
        score, grade = None, None
        notes.append(NOT_EVALUATED)
    else:
        score = _half_up(auto_total + manual_total)
        if vetoes:
            grade = VETO_GRADE
            notes.append("一票否决：" + "、".join(vetoes))
        elif not complete:
            grade = None
            notes.append(PENDING_MANUAL)
        else:
            grade = config.grade_for(score)
    small = 0 < findings < min_findings
    if small:
        notes.append(small_sample_note(min_findings))
    if provisional:
        notes.append(PROVISIONAL)
    done = int(counts.get("measures_done") or 0)
    self_reported = rate(done + claims.get(inspection, 0), measures)
    actual = DEFINITIONS["measure_completion_rate"].compute(counts)
    gap = (
        _half_up(Decimal(str(self_reported)) - Decimal(str(actual)))
        if self_reported is not None and actual is not None
        else None
    )
    pending = entries.filter(pl.col("decision").is_null()).height
    unit = {
        **head,
        "round_name": row["round_name"],
        "seq": int(row["seq"]),
        "findings": findings,
        "small_sample": small,
        "measures": measures,
        "auto_points": _half_up(auto_total),
        "manual_points": _half_up(manual_total),
        "deductions": _half_up(deductions),
        "score": score,
        "grade": grade,
        "vetoed": bool(vetoes),
        "veto_items": "、".join(vetoes) or None,
        "complete": complete,
        "pending_entries": pending,
        "provisional": provisional,
        "period_end": period["period_end"] if period else None,
        "completion_rate": DEFINITIONS["completion_rate"].compute(counts),
        "measure_completion_rate": actual,
        "self_reported_rate": self_reported,
        "completion_gap": gap,
        "note": "；".join(notes) or None,
    }
    return unit, items


def _auto_points(
    item: Any, counts: dict[str, Any]
) -> tuple[float, str, int | None, int | None, float | None]:
    """(points, basis in words, numerator, denominator, value) of one automatic item."""
    full = Decimal(str(item.points))
    if item.method == "rate":
        figure = DEFINITIONS[item.source]
        num = sum(int(counts.get(k) or 0) for k in figure.numerator)
        den = int(counts.get(figure.denominator) or 0)
        value = rate(num, den)
        if value is None:
            return 0.0, f"{RATE_SOURCES[item.source]}无法计算（分母为 0），不得分", num, den, None
        points = _half_up(full * Decimal(str(value)) / 100)
        return points, f"{RATE_SOURCES[item.source]} {num}/{den} = {value:.2f}%", num, den, value
    raw = counts.get(item.source)
    what = COUNT_SOURCES[item.source]
    if item.method == "target":
        if raw is None:
            return 0.0, "没有巡察成效记录，不得分", None, None, None
        count = int(raw)
        share = min(Decimal(1), Decimal(count) / Decimal(str(item.target)))
        return _half_up(full * share), f"{what} {count}（目标 {item.target:g}）", count, None, count
    count = int(raw or 0)
    lost = min(full, Decimal(str(item.per)) * count)
    return _half_up(full - lost), f"{what} {count}，扣 {_half_up(lost):g} 分", count, None, count


def _counted(entries: pl.DataFrame, item: str) -> tuple[float | None, str, int | None]:
    """The value counted for an item (its latest confirmed entry), its status in words, and
    the entry shown (the counted one, else the one awaiting confirmation)."""
    mine = entries.filter(pl.col("item") == item).sort("entry_id")
    confirmed = mine.filter(pl.col("decision") == "confirm")
    pending = mine.filter(pl.col("decision").is_null())
    if confirmed.height:
        last = confirmed.row(-1, named=True)
        newer = pending.filter(pl.col("entry_id") > last["entry_id"]).height
        status = "已确认" + ("（另有新的录入待确认）" if newer else "")
        return float(last["value"]), status, int(last["entry_id"])
    if pending.height:
        return None, "待确认（不计分）", int(pending.row(-1, named=True)["entry_id"])
    if mine.height:
        return None, "已退回，待重新录入（不计分）", int(mine.row(-1, named=True)["entry_id"])
    return None, "未录入（不计分）", None


def grades(
    reader: Reader,
    scope: Scope,
    config: EvaluationConfig | None = None,
    *,
    rule: PeriodRule | None = None,
) -> pl.DataFrame:
    """Per unit per round in scope: unit_id, unit_name, round_id, round_name, score, grade
    (好/较好/一般/差; None when not gradable: no findings, or manual items not all
    confirmed), vetoed, provisional (暂评), plus complete, small_sample (样本不足: the grade is
    for reference only), note and the 表面整改 columns."""
    units = evaluate(reader, scope, config, rule=rule).units
    return units.select(
        *GRADE_COLUMNS,
        "complete",
        "small_sample",
        "note",
        "completion_rate",
        "self_reported_rate",
        "measure_completion_rate",
        "completion_gap",
    )
