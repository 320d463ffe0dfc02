"""Why a political-ecology grade moved, and how grades spread and move across rounds.

A grade is a relative judgement (DOMAIN.md §6 as amended by issue 20: percentiles within the
peer group, shrunk toward the round's population), so a unit's grade can move between two of
its inspections because its own figures moved or because its peers' did. A leader must see
which: when a grade moved two or more grades since the unit's previous inspection, the
explanation names the indicators whose part of the score changed most, with their values
then and now, and any cap that appeared or went (`explain_movement`).

`distribution` is what `xuncha ecology --distribution` prints: per round the grades given
(final, or 暂评 while the round's rectification period runs, xuncha.figures.periods), and
between consecutive inspections of each unit how many moved 0, 1, 2 or 3 grades, and of the
moves of two or more how many have a named reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from xuncha.figures import ecology
from xuncha.figures.ecology import GRADES, SMALL_SAMPLE, EcologyConfig, Scorecards
from xuncha.figures.periods import PROVISIONAL, PeriodRule
from xuncha.filters import Scope
from xuncha.store.reader import Reader

# A change of an indicator's part of the score smaller than this (points) is not a reason.
MIN_REASON_POINTS = 0.5
REASONS_NAMED = 3
STEP_WORDS = {1: "一个", 2: "两个", 3: "三个"}


@dataclass(frozen=True)
class Movement:
    """A unit's grade in a round against its previous inspection's."""

    unit_id: int
    round_name: str
    grade: str
    previous_round: str
    previous_grade: str
    steps: int  # grades moved: + better, − worse
    reasons: tuple[str, ...]
    text: str


def explain_movement(
    reader: Reader,
    scope: Scope,
    round_id: int,
    unit_id: int,
    *,
    config: EcologyConfig,
    rule: PeriodRule | None = None,
    trend: pl.DataFrame | None = None,
    clue_details: bool = False,
    min_steps: int = 2,
) -> Movement | None:
    """The movement of `unit_id`'s grade in `round_id` since its previous inspection in
    `scope` (all rounds to compare), when it moved at least `min_steps` grades; else None.
    `trend`: score_trend of `scope`, when already computed."""
    if trend is None:
        trend = ecology.score_trend(reader, scope, config, rule=rule)
    moved = ecology.grade_movement(trend, round_id).filter(pl.col("unit_id") == unit_id)
    if moved.is_empty():
        return None
    row = moved.row(0, named=True)
    if row["_now"] is None or row["_before"] is None:
        return None
    steps = int(row["_before"]) - int(row["_now"])
    if abs(steps) < min_steps:
        return None
    previous = trend.filter((pl.col("unit_id") == unit_id) & (pl.col("seq") < row["seq"]))
    previous_round = int(previous.sort("seq")["round_id"][-1])
    now_cards = _round_cards(reader, scope, round_id, config, rule)
    then_cards = _round_cards(reader, scope, previous_round, config, rule)
    reasons = _reasons(now_cards, then_cards, unit_id, steps, clue_details)
    word = "上升" if steps > 0 else "下降"
    head = (
        f"较上次巡察（{row['previous_round']}，{row['previous_grade']}）"
        f"{word}{STEP_WORDS.get(abs(steps), str(abs(steps)))}等次"
        + (f"（本轮等次为{PROVISIONAL}：整改期尚未结束）" if row.get("provisional") else "")
    )
    text = head + ("，主要因为：" + "；".join(reasons) if reasons else "，各指标变化均较小")
    return Movement(
        unit_id=unit_id,
        round_name=str(row["round_name"]),
        grade=str(row["grade"]),
        previous_round=str(row["previous_round"]),
        previous_grade=str(row["_prev_grade"]),
        steps=steps,
        reasons=tuple(reasons),
        text=text + "。",
    )


def _round_cards(
    reader: Reader,
    scope: Scope,
    round_id: int,
    config: EcologyConfig,
    rule: PeriodRule | None,
) -> Scorecards:
    rounds = reader.query(
        "ecology_rounds", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    )
    ids = rounds.filter(pl.col("round_id") == round_id)["inspection_ids"][0]
    return ecology.scorecards(
        reader, replace(scope, inspection_ids=tuple(int(i) for i in ids)), config, rule=rule
    )


def _reasons(
    now: Scorecards, then: Scorecards, unit_id: int, steps: int, clue_details: bool
) -> list[str]:
    """The indicators whose part of the score (weight share × (score − 50)) moved most in
    the direction of the grade, and the caps that appeared (worse) or went (better)."""
    cols = ["indicator", "indicator_name", "raw_value", "normalised", "contribution"]
    a = then.indicators.filter(pl.col("unit_id") == unit_id).select(cols)
    b = now.indicators.filter(pl.col("unit_id") == unit_id).select(cols)
    both = b.join(a, on=["indicator", "indicator_name"], how="full", suffix="_then", coalesce=True)
    both = both.with_columns(
        (pl.col("contribution").fill_null(0.0) - pl.col("contribution_then").fill_null(0.0)).alias(
            "delta"
        )
    )
    sign = 1 if steps > 0 else -1
    moved = both.filter(pl.col("delta") * sign >= MIN_REASON_POINTS).sort(
        pl.col("delta") * sign, descending=True
    )
    out = [_reason_text(r, clue_details) for r in moved.head(REASONS_NAMED).iter_rows(named=True)]
    caps_now = _caps(now, unit_id)
    caps_then = _caps(then, unit_id)
    changed = caps_now - caps_then if steps < 0 else caps_then - caps_now
    word = "新触发封顶" if steps < 0 else "不再触发封顶"
    out += [f"{word}（{badge}）" for badge in sorted(changed)]
    return out


def _caps(cards: Scorecards, unit_id: int) -> set[str]:
    rows = cards.units.filter(pl.col("unit_id") == unit_id)
    if rows.is_empty():
        return set()
    return {b for b in rows["badges"][0] if b != SMALL_SAMPLE}


def _reason_text(row: Mapping[str, Any], clue_details: bool) -> str:
    key, name = row["indicator"], row["indicator_name"]
    then, now = row["normalised_then"], row["normalised"]
    scores = f"该项得分 {_score(then)} → {_score(now)}"
    if key in ecology.CLUE_EVIDENCE and not clue_details:
        return f"{name}（{scores}，数值仅限案件办理人员）"
    before, after = _value(row["raw_value_then"], key), _value(row["raw_value"], key)
    if before == after:
        return f"{name} 均为 {after}（数值未变，同类单位变化使{scores}）"
    return f"{name} {before} → {after}（{scores}）"


def _score(value: float | None) -> str:
    return "未计入" if value is None else ecology._dec(value, 0)


def _value(value: float | None, key: str) -> str:
    if value is None:
        return "无"
    if key in ("finding_density", "clue_density"):
        return f"同类组中位数的 {ecology._dec(value, 2)} 倍"
    return ecology._fmt(value, key)


# -- distribution and stability ------------------------------------------------------------


def distribution(
    reader: Reader,
    scope: Scope,
    config: EcologyConfig,
    *,
    rule: PeriodRule | None = None,
    clue_details: bool = False,
) -> dict[str, Any]:
    """The grades of every round of `scope` (finished or 暂评) and their stability between
    each unit's consecutive inspections, with the reasons named for moves of two or more."""
    trend = ecology.score_trend(reader, scope, config, rule=rule)
    rounds = []
    for part in trend.partition_by("seq", maintain_order=False):
        first = part.row(0, named=True)
        counts = dict(part.group_by("grade").len().rows())
        rounds.append(
            {
                "round": first["round_name"],
                "seq": int(first["seq"]),
                "status": PROVISIONAL if first["provisional"] else "已结束整改期",
                "units": part.height,
                "grades": {g: int(counts.get(g, 0)) for g in GRADES},
                "small_sample": int(part["small_sample"].sum()),
                "not_scored": int((part["grade"].is_null() & ~part["small_sample"]).sum()),
                "capped": {
                    badge: n
                    for badge, n in part.explode("badges")
                    .drop_nulls("badges")
                    .filter(pl.col("badges") != SMALL_SAMPLE)
                    .group_by("badges")
                    .len()
                    .sort("badges")
                    .rows()
                },
            }
        )
    rounds.sort(key=lambda r: r["seq"])
    # Moves into a round whose grades are final, and moves into a 暂评 round (whose grades
    # still move with every measure completed), counted apart.
    moves: dict[int, int] = {0: 0, 1: 0, 2: 0, 3: 0}
    provisional_moves: dict[int, int] = {0: 0, 1: 0, 2: 0, 3: 0}
    big: list[dict[str, Any]] = []
    for round_id in trend["round_id"].unique().sort().to_list():
        matrix = ecology.grade_movement(trend, int(round_id)).filter(
            pl.col("_now").is_not_null() & pl.col("_before").is_not_null()
        )
        for row in matrix.iter_rows(named=True):
            steps = int(row["_before"]) - int(row["_now"])
            (provisional_moves if row["provisional"] else moves)[abs(steps)] += 1
            if abs(steps) >= 2:
                found = explain_movement(
                    reader,
                    scope,
                    int(round_id),
                    int(row["unit_id"]),
                    config=config,
                    rule=rule,
                    trend=trend,
                    clue_details=clue_details,
                )
                big.append(
                    {
                        "unit": row["unit_name"],
                        "round": row["round_name"],
                        "steps": steps,
                        "provisional": bool(row["provisional"]),
                        "named": bool(found and found.reasons),
                        "text": found.text if found else "",
                    }
                )
    return {
        "as_of": scope.as_of.isoformat(),
        "config_digest": config.digest(),
        "grade_lines": dict(config.grades),
        "rounds": rounds,
        "moves": {str(k): v for k, v in moves.items()},
        "provisional_moves": {str(k): v for k, v in provisional_moves.items()},
        "big_moves": big,
        "big_moves_named": sum(1 for b in big if b["named"]),
    }


def distribution_text(result: Mapping[str, Any]) -> str:
    """The distribution as lines for the terminal (Chinese)."""
    lines = [f"政治生态研判等次分布（研判参考，截至 {result['as_of']}）"]
    for r in result["rounds"]:
        grades = "，".join(f"{g} {n}" for g, n in r["grades"].items())
        extra = []
        if r["small_sample"]:
            extra.append(f"样本不足 {r['small_sample']}")
        if r["not_scored"]:
            extra.append(f"无法评分 {r['not_scored']}")
        caps = "；".join(f"{b} {n}" for b, n in r["capped"].items())
        lines.append(
            f"  {r['round']}（{r['status']}，{r['units']} 个单位）：{grades}"
            + (f"，{'，'.join(extra)}" if extra else "")
            + (f"；封顶：{caps}" if caps else "")
        )
    m, p = result["moves"], result["provisional_moves"]
    lines.append(
        f"相邻两次被巡察的等次变化（本次等次已确定的 {sum(m.values())} 次）：不变 {m['0']}，"
        f"变化一个等次 {m['1']}，两个等次 {m['2']}，三个等次 {m['3']}；"
        f"另有本次为{PROVISIONAL}的 {sum(p.values())} 次：不变 {p['0']}，变化一个等次 {p['1']}，"
        f"两个等次 {p['2']}，三个等次 {p['3']}"
    )
    lines.append(
        f"变化两个等次及以上的 {len(result['big_moves'])} 次中，"
        f"解释写明原因的 {result['big_moves_named']} 次"
    )
    for b in result["big_moves"]:
        lines.append(f"  {b['unit']}（{b['round']}）：{b['text']}")
    return "\n".join(lines) + "\n"
