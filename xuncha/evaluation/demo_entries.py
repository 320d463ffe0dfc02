"""整改成效评估 in the demo city: the manual items (满意度测评, 实地查看, 群众评判) entered by the
巡察办 and confirmed by the 监督检查室 for every unit of the rounds whose rectification period has
ended, so the evaluation shows grades on a fresh machine, with a few realistic exceptions.

- Which rounds: those whose rectification period (xuncha.figures.periods, the default rule)
  had ended by the demo's as-of date, computed here in SQL from the same tables as
  queries/rectification_periods.sql (every measure of the demo is known by its as-of date).
- When: an inspection's entries are made about a month after its round's period ended and
  confirmed a few days later (never after the as-of date).
- Values: each item's maximum is read from the configuration (the packaged default unless
  one is given); a value is points × a share (questionnaires, measures checked, people
  asked) that follows the unit's measure completion, with some spread by unit and item.
  The basis (评分依据) says how the value was reached, in Chinese.
- Exceptions: 虚假整改 confirmed as 成立 for two units (their grade is 差 whatever the points),
  one 敷衍整改 confirmed as 不成立, one 满意度测评 returned (退回) and entered again, a few
  entries awaiting confirmation (a newer 群众评判 of two units and the 实地查看 of one unit of
  the latest finished round; 实地查看 of the 集中整改期 of a few units of a round still in
  rectification, never confirmed).

Every choice is a deterministic function of ids. Rows are written in bulk inside the demo's
build transaction, in its batch (import batch 1), as demo_activity writes the online
activity; each entry names the demo's evidence file (demo_activity.put_demo_evidence stores it
before the version that names it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from xuncha.evaluation.config import EvaluationConfig, ManualItem
from xuncha.figures.periods import PeriodRule
from xuncha.rectify.demo_activity import demo_evidence

ENTERER = ("巡察办评估员", "office")
CONFIRMER = ("监督检查室复核员", "supervisor")
REJECT_REASON = "问卷未覆盖服务对象，满意率依据不足，请补充面向服务对象的测评结果后重新录入。"


def _share(*keys: int) -> float:
    """A deterministic number in [0, 1) from integers (splitmix64)."""
    x = 0x9E3779B97F4A7C15
    for key in keys:
        x = (x ^ (key & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x / 2**64


# Per inspection fed back by the date and with findings: its round, the end of its round's
# rectification period (the latest of its inspections' periods, as figures.periods.round_periods)
# and the share of its measures done by the date.
_BASE = """
WITH per_inspection AS (
    SELECT f.inspection_id, count(DISTINCT f.finding_id) AS findings,
           count(m.measure_id) AS measures,
           count(m.measure_id) FILTER (WHERE m.status = 'DONE') AS done,
           max(m.deadline_original) AS last_deadline
    FROM findings f LEFT JOIN measures m USING (finding_id)
    GROUP BY ALL
),
periods AS (
    SELECT i.inspection_id, i.round_id, i.unit_id, r.seq, i.feedback_date,
           least(greatest(coalesce(p.last_deadline, i.feedback_date),
                          (i.feedback_date + to_months($min_months::INTEGER))::DATE),
                 (i.feedback_date + to_months($max_months::INTEGER))::DATE) AS period_end,
           p.findings, coalesce(p.done / nullif(p.measures, 0), 0)::DOUBLE AS done_share
    FROM inspections i
    JOIN rounds r ON r.round_id = i.round_id
    LEFT JOIN per_inspection p ON p.inspection_id = i.inspection_id
    WHERE i.feedback_date <= $as_of::DATE
)
SELECT inspection_id, round_id, unit_id, seq, feedback_date, done_share,
       max(period_end) OVER (PARTITION BY round_id) AS round_end
FROM periods
WHERE coalesce(findings, 0) > 0
ORDER BY seq, unit_id
"""


@dataclass
class _Entry:
    inspection_id: int
    round_id: int
    unit_id: int
    item: str
    value: float
    note: str
    entered_on: dt.date
    order: int  # tie-break of entries made on one day
    decision: str | None = None
    decided_on: dt.date | None = None
    reason: str | None = None


def _manual_note(item: ManualItem, share: float, size: float, when: str = "") -> tuple[float, str]:
    """A value (points × share observed) and its basis in words."""
    if item.key == "satisfaction":
        issued = 80 + 10 * int(size * 8)
        n = issued - int(size * 97) % 6  # a few questionnaires not returned or not valid
        k = round(n * share)
        what = (
            f"发放问卷 {issued} 份，回收有效问卷 {n} 份，满意和基本满意 {k} 份，满意率 {k / n:.1%}"
        )
    elif item.key == "site_check":
        n = 8 + int(size * 8)
        k = round(n * share)
        what = f"实地抽查整改措施 {n} 项，现场核对佐证材料，落实到位 {k} 项"
        if k < n:
            what += f"，{n - k} 项仍需巩固"
    elif item.key == "public_review":
        n = 30 + 5 * int(size * 7)
        k = round(n * share)
        what = f"走访服务对象和群众 {n} 人，认为整改有明显成效的 {k} 人，认可率 {k / n:.1%}"
    else:  # an item of an administrator's own configuration
        n = 10 + int(size * 10)
        k = round(n * share)
        what = f"核查 {n} 项，达到要求 {k} 项"
    value = min(item.points, round(item.points * k / n, 1))
    return value, f"{item.label}{when}：{what}，折合 {value:g} 分。"


def _clamp(x: float, low: float, high: float) -> float:
    return max(low, min(high, x))


def plan(rows: list[dict[str, Any]], *, as_of: dt.date, config: EvaluationConfig) -> list[_Entry]:
    """The entries and their decisions, from the inspections of `rows` (_BASE's rows)."""
    entries: list[_Entry] = []
    finished = [r for r in rows if r["round_end"] < as_of]
    ongoing = [r for r in rows if r["round_end"] >= as_of]
    if not finished and not ongoing:
        return entries
    latest_finished = max((r["seq"] for r in finished), default=None)

    def dates(row: dict[str, Any], lag: int, salt: int) -> tuple[dt.date, dt.date]:
        end: dt.date = row["round_end"]
        entered = end + dt.timedelta(days=lag + int(_share(row["inspection_id"], salt) * 16))
        entered = max(end + dt.timedelta(days=1), min(entered, as_of - dt.timedelta(days=3)))
        entered = min(entered, as_of)
        decided = entered + dt.timedelta(days=2 + int(_share(row["inspection_id"], salt, 1) * 5))
        return entered, min(decided, as_of)

    # Exceptions, chosen by hash among the finished rounds' inspections.
    ranked = sorted(finished, key=lambda r: _share(r["inspection_id"], 7))
    median = sorted(r["done_share"] for r in finished)[len(finished) // 2] if finished else 0
    vetoed: list[dict[str, Any]] = []
    for row in ranked:
        if (
            len(vetoed) < 2
            and row["done_share"] >= median
            and row["seq"] != latest_finished
            and all(v["round_id"] != row["round_id"] for v in vetoed)
        ):
            vetoed.append(row)
    others = [r for r in ranked if r not in vetoed]
    cleared = others[0] if others else None  # a 敷衍整改 reported, found 不成立
    rejected = others[1] if len(others) > 1 else None  # 满意度测评 returned and entered again
    in_latest = [r for r in others[2:] if r["seq"] == latest_finished]
    late_review = in_latest[:2]  # a newer 群众评判 awaiting confirmation
    unchecked = in_latest[2] if len(in_latest) > 2 else None  # 实地查看 still unconfirmed

    for row in finished:
        iid, unit = int(row["inspection_id"]), int(row["unit_id"])
        unit_effect = 0.12 * (_share(unit, 3) - 0.5)  # some units are better liked than others
        entered, decided = dates(row, 25, 11)
        for j, item in enumerate(config.manual):
            share = _clamp(
                0.45 + 0.42 * row["done_share"] + unit_effect + 0.16 * (_share(iid, j, 5) - 0.5),
                0.30,
                0.98,
            )
            value, note = _manual_note(item, share, _share(iid, j, 9))
            entry = _Entry(iid, row["round_id"], unit, item.key, value, note, entered, j)
            if row is unchecked and j == 1 % len(config.manual):
                entry.entered_on = max(entry.entered_on, as_of - dt.timedelta(days=6))
                entries.append(entry)  # awaiting confirmation
                continue
            if row is rejected and j == 0:
                first_share = _clamp(share + 0.12, 0.0, 1.0)
                v0, n0 = _manual_note(item, first_share, _share(iid, j, 9))
                entries.append(
                    _Entry(
                        iid, row["round_id"], unit, item.key, v0, n0, entered, j,
                        "reject", min(decided, as_of), REJECT_REASON,
                    )
                )  # fmt: skip
                again = min(decided + dt.timedelta(days=8), as_of)
                entry.entered_on = again
                entry.note = note.replace("：", "（补充面向服务对象的测评后重新录入）：", 1)
                decided_again = min(again + dt.timedelta(days=3), as_of)
                entry.decision, entry.decided_on = "confirm", decided_again
                entries.append(entry)
                continue
            entry.decision, entry.decided_on = "confirm", decided
            entries.append(entry)
            if row in late_review and j == len(config.manual) - 1:
                share2 = _clamp(share + 0.05, 0.0, 1.0)
                v2, n2 = _manual_note(item, share2, _share(iid, j, 13), "（回访）")
                entries.append(
                    _Entry(
                        iid, row["round_id"], unit, item.key, v2, n2,
                        as_of - dt.timedelta(days=4 + len(entries) % 6), j,
                    )
                )  # fmt: skip
        veto_order = len(config.manual)
        if row in vetoed and config.veto:
            veto = config.veto[0]
            on, confirmed = dates(row, 70, 17)
            entries.append(
                _Entry(
                    iid, row["round_id"], unit, veto.key, 1.0,
                    f"{veto.label}：评估中抽查该单位报送的整改佐证材料，发现 2 项制度文件系事后补制、"
                    "相关问题实际未整改，以报代改，经核实属实，已移交纪检监察机关依规处理。",
                    on, veto_order, "confirm", confirmed,
                )
            )  # fmt: skip
        if row is cleared and len(config.veto) > 1:
            veto = config.veto[1]
            on, confirmed = dates(row, 50, 19)
            entries.append(
                _Entry(
                    iid, row["round_id"], unit, veto.key, 0.0,
                    f"{veto.label}：群众来信反映该单位整改避重就轻，经实地核查，相关整改措施已落实、"
                    f"问题已解决，反映的{veto.label}问题不成立。",
                    on, veto_order + 1, "confirm", confirmed,
                )
            )  # fmt: skip

    # A round still in rectification: the 实地查看 at the end of the 集中整改期 of a few units,
    # entered in the last days and awaiting confirmation (never confirmed before the period ends).
    site = config.manual[1 % len(config.manual)] if config.manual else None
    if site is not None:
        ready = [r for r in ongoing if r["feedback_date"] <= as_of - dt.timedelta(days=100)]
        for n, row in enumerate(sorted(ready, key=lambda r: _share(r["inspection_id"], 23))[:3]):
            share = _clamp(0.45 + 0.45 * row["done_share"], 0.3, 1.0)
            value, note = _manual_note(
                site, share, _share(row["inspection_id"], 29), "（集中整改期）"
            )
            entries.append(
                _Entry(
                    int(row["inspection_id"]), row["round_id"], int(row["unit_id"]), site.key,
                    value, note, as_of - dt.timedelta(days=2 + 3 * n), 1,
                )
            )  # fmt: skip
    return entries


def _stamp(on: dt.date, hour: int, key: int) -> dt.datetime:
    return dt.datetime.combine(on, dt.time(hour)) + dt.timedelta(minutes=key % 420)


def add(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: dt.date,
    batch_id: int = 1,
    config: EvaluationConfig | None = None,
    rule: PeriodRule | None = None,
) -> int:
    """Write the demo's 整改成效评估 entries inside the caller's transaction (after the demo's
    rounds, inspections, findings and measures); returns how many entries were written."""
    config = config or EvaluationConfig.load()
    rule = rule or PeriodRule()
    cursor = con.execute(
        _BASE, {"as_of": as_of, "min_months": rule.min_months, "max_months": rule.max_months}
    )
    names = [d[0] for d in cursor.description or []]
    base = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    planned = plan(base, as_of=as_of, config=config)
    if not planned:
        return 0
    planned.sort(key=lambda e: (e.entered_on, e.inspection_id, e.order))
    checked = demo_evidence()
    con.execute(
        "INSERT INTO evidence_files SELECT ?, ?, ?, ?, ?, 'system'"
        " WHERE NOT EXISTS (SELECT 1 FROM evidence_files WHERE sha256 = ?)",
        [
            checked.sha256,
            checked.size,
            checked.media_type,
            checked.file_kind,
            dt.datetime.combine(as_of, dt.time(18, 0)),
            checked.sha256,
        ],
    )
    start = con.execute("SELECT coalesce(max(entry_id), 0) FROM evaluation_entries").fetchall()
    first = int(start[0][0]) + 1
    ids = range(first, first + len(planned))
    entries = pl.DataFrame(
        {
            "entry_id": list(ids),
            "inspection_id": [e.inspection_id for e in planned],
            "round_id": [e.round_id for e in planned],
            "unit_id": [e.unit_id for e in planned],
            "item": [e.item for e in planned],
            "value": [e.value for e in planned],
            "note": [e.note for e in planned],
            "entered_by": [ENTERER[0]] * len(planned),
            "entered_role": [ENTERER[1]] * len(planned),
            "entered_at": [
                _stamp(e.entered_on, 9, i * 37) for i, e in zip(ids, planned, strict=True)
            ],
            "entered_on": [e.entered_on for e in planned],
            "batch_id": [batch_id] * len(planned),
        },
        schema_overrides={"entered_at": pl.Datetime("us"), "entered_on": pl.Date},
    )
    decided = [
        (i, e, e.decided_on)
        for i, e in zip(ids, planned, strict=True)
        if e.decision is not None and e.decided_on is not None
    ]
    decisions = pl.DataFrame(
        {
            "entry_id": [i for i, _, _ in decided],
            "decision": [e.decision for _, e, _ in decided],
            "reason": [e.reason for _, e, _ in decided],
            "decided_by": [CONFIRMER[0]] * len(decided),
            "decided_role": [CONFIRMER[1]] * len(decided),
            "decided_at": [_stamp(on, 14, i * 53) for i, _, on in decided],
            "decided_on": [on for _, _, on in decided],
            "batch_id": [batch_id] * len(decided),
        },
        schema_overrides={
            "reason": pl.String,
            "decided_at": pl.Datetime("us"),
            "decided_on": pl.Date,
        },
    )
    evidence = pl.DataFrame(
        {
            "entry_id": list(ids),
            "sha256": [checked.sha256] * len(planned),
            "file_name": [checked.file_name] * len(planned),
            "position": [1] * len(planned),
        }
    )
    for table, frame in (
        ("evaluation_entries", entries),
        ("evaluation_decisions", decisions),
        ("evaluation_entry_evidence", evidence),
    ):
        con.register("demo_evaluation_frame", frame)
        try:
            columns = ", ".join(frame.columns)
            con.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM demo_evaluation_frame"
            )
        finally:
            con.unregister("demo_evaluation_frame")
    return len(planned)
