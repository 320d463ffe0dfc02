"""Online rectification in the demo city: units that report, claims awaiting review or 销号,
returns, extension requests, and the closures of measures the demo ledgers already show DONE,
so the work queues and the online figures have something to show on a fresh machine.

Measures claimed, returned or awaiting a decision keep their status and deadline. A measure
closed online is DONE from its 销号 day, a few days after the completion date the ledgers show
(which stays its completion date, so on-time and 整改周期 do not change): its DONE record is
moved to that day, as the write path of a real 销号 would have dated it. The choice of measures is a
deterministic function of their ids; evidence is one small generated image whose file
`put_demo_evidence` stores (before the version that names it, as every write does).
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from typing import TYPE_CHECKING

import duckdb

from xuncha.store import Store

if TYPE_CHECKING:
    from xuncha.rectify.evidence import CheckedEvidence

LIAISON = "联络员{:03d}"  # DuckDB format(): the unit id in three digits
REVIEWER = "巡察组审核员"
APPROVER = "巡察办销号员"
EVIDENCE_NAME = "整改佐证（演示）.png"


def _png(width: int = 48, height: int = 32) -> bytes:
    """A small valid PNG: a grey gradient, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    rows = b"".join(
        b"\x00" + bytes((x * 5 + y * 3) % 256 for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def demo_evidence() -> CheckedEvidence:
    """The demo's evidence file, checked like any upload."""
    from xuncha.rectify.evidence import check_evidence

    return check_evidence(EVIDENCE_NAME, _png())


def put_demo_evidence(store: Store) -> None:
    from xuncha.rectify.evidence import put_evidence

    put_evidence(store, demo_evidence(), new_store=True)


def add(con: duckdb.DuckDBPyConnection, *, as_of: dt.date, batch_id: int = 1) -> int:
    """Write the demo's online activity inside the caller's transaction; returns how many
    submissions were written."""
    checked = demo_evidence()
    created = dt.datetime.combine(as_of, dt.time(18, 0))
    con.execute(
        "INSERT INTO evidence_files VALUES (?, ?, ?, ?, ?, ?)",
        [checked.sha256, checked.size, checked.media_type, checked.file_kind, created, "system"],
    )
    con.execute(_PLAN, {"as_of": as_of})
    # A measure closed online is DONE from its 销号 day (DOMAIN.md §8), completed on the day
    # reported: its ledger DONE record moves to that day and the measure gets its 销号日期.
    con.execute(
        "UPDATE measure_status_history SET status_date = p.last_day FROM demo_plan p"
        " WHERE p.plan = 'closed' AND measure_status_history.measure_id = p.measure_id"
        " AND measure_status_history.status = 'DONE'"
    )
    con.execute(
        "UPDATE measures SET closed_on = p.last_day, status_text = '已销号' FROM demo_plan p"
        " WHERE p.plan = 'closed' AND measures.measure_id = p.measure_id"
    )
    con.execute(_SUBMISSIONS, {"batch": batch_id, "created": created})
    con.execute(_STEPS, {"batch": batch_id, "created": created, "sha": checked.sha256})
    con.execute(
        "INSERT INTO submission_evidence SELECT submission_id, ?, ?, 1 FROM demo_plan"
        " WHERE kind = 'done'",
        [checked.sha256, checked.file_name],
    )
    row = con.execute("SELECT count(*) FROM demo_plan").fetchone()
    con.execute("DROP TABLE demo_plan")
    return int(row[0]) if row else 0


# Which measures, and the dates of their steps. Open measures of each unit's latest
# inspection get claims in every state (by measure_id modulo 40); DONE measures of the two
# latest rounds get a claim closed on the day the ledgers first show them DONE (not before
# the 反馈日期, from which the timelines count them).
_PLAN = """
CREATE TEMP TABLE demo_plan AS
WITH latest AS (
    SELECT f.unit_id, max(r.seq) AS seq
    FROM findings f JOIN rounds r USING (round_id) GROUP BY ALL
),
open_measures AS (
    SELECT m.measure_id, m.finding_id, f.inspection_id, f.round_id, f.unit_id,
           m.deadline_current, i.feedback_date, m.measure_id % 40 AS pick
    FROM measures m
    JOIN findings f USING (finding_id)
    JOIN inspections i ON i.inspection_id = f.inspection_id
    JOIN rounds r ON r.round_id = f.round_id
    JOIN latest l ON l.unit_id = f.unit_id AND l.seq = r.seq
    WHERE m.status <> 'DONE' AND m.deadline_current IS NOT NULL
      AND i.feedback_date <= $as_of::DATE - 30
),
open_plan AS (
    SELECT *, CASE WHEN pick IN (0, 1, 2) THEN 'pending_review'
                   WHEN pick IN (3, 4) THEN 'pending_close'
                   WHEN pick = 5 THEN 'returned'
                   WHEN pick = 6 THEN 'resubmitted'
                   WHEN pick IN (7, 8) THEN 'extension_pending'
                   WHEN pick IN (9, 10, 11) THEN 'recorded' END AS plan,
           $as_of::DATE - (measure_id % 9)::INTEGER AS last_day
    FROM open_measures
),
done_plan AS (
    -- Closed online: the 销号 comes 3–15 days after the reported completion (never after the
    -- demo's today), and the DONE the ledgers recorded is dated on that day (see add()).
    SELECT m.measure_id, m.finding_id, f.inspection_id, f.round_id, f.unit_id,
           m.deadline_current, i.feedback_date, 0 AS pick, 'closed' AS plan,
           least($as_of::DATE, greatest(m.completed_on, i.feedback_date)
                 + (3 + m.measure_id % 13)::INTEGER) AS last_day,
           m.completed_on
    FROM measures m
    JOIN findings f USING (finding_id)
    JOIN inspections i ON i.inspection_id = f.inspection_id
    JOIN rounds r ON r.round_id = f.round_id
    JOIN (SELECT measure_id, min(status_date) AS done_on, max(status_date) AS last_on
          FROM measure_status_history GROUP BY ALL) h ON h.measure_id = m.measure_id
    WHERE m.status = 'DONE' AND m.completed_on IS NOT NULL AND m.measure_id % 3 = 0
      AND r.seq >= (SELECT max(seq) - 1 FROM rounds) AND h.done_on >= m.completed_on
      -- its DONE is its last record: moving it later reorders nothing
      AND (SELECT arg_max(status, history_id) FROM measure_status_history x
           WHERE x.measure_id = m.measure_id) = 'DONE'
      AND (SELECT count(*) FROM measure_status_history x
           WHERE x.measure_id = m.measure_id AND x.status = 'DONE') = 1
)
SELECT row_number() OVER (ORDER BY measure_id, kind) AS submission_id, *
FROM (
    SELECT measure_id, finding_id, inspection_id, round_id, unit_id, plan,
           CASE WHEN plan = 'recorded' THEN 'progress'
                WHEN plan = 'extension_pending' THEN 'extension' ELSE 'done' END AS kind,
           deadline_current, greatest(last_day - 6, feedback_date + 1) AS submitted_on,
           last_day, least(last_day - 6, $as_of::DATE - 7) AS completed_on
    FROM open_plan WHERE plan IS NOT NULL AND plan <> 'resubmitted'
    UNION ALL
    -- a claim returned, then a new one awaiting review
    SELECT measure_id, finding_id, inspection_id, round_id, unit_id, 'returned',
           'done', deadline_current, greatest(last_day - 12, feedback_date + 1), last_day - 8,
           least(last_day - 12, $as_of::DATE - 13)
    FROM open_plan WHERE plan = 'resubmitted'
    UNION ALL
    SELECT measure_id, finding_id, inspection_id, round_id, unit_id, 'pending_review',
           'done', deadline_current, greatest(last_day - 4, feedback_date + 1), last_day,
           least(last_day - 4, $as_of::DATE - 5)
    FROM open_plan WHERE plan = 'resubmitted'
    UNION ALL
    SELECT measure_id, finding_id, inspection_id, round_id, unit_id, plan, 'done',
           deadline_current, least(greatest(completed_on, feedback_date), last_day), last_day,
           completed_on
    FROM done_plan
)
"""

_SUBMISSIONS = f"""
INSERT INTO rectify_submissions
SELECT submission_id, measure_id, finding_id, inspection_id, round_id, unit_id, kind,
       CASE kind WHEN 'done' THEN 'DONE' WHEN 'progress' THEN 'IN_PROGRESS' END,
       CASE kind WHEN 'done' THEN '已按整改措施完成整改，相关制度已印发，佐证材料见附件。'
                 WHEN 'progress' THEN '正在按整改方案推进，已完成阶段性任务，下一步持续跟进。'
                 ELSE NULL END,
       CASE WHEN kind = 'done' THEN completed_on END,
       CASE WHEN kind = 'extension' THEN deadline_current + 30 END,
       CASE WHEN kind = 'extension' THEN '涉及跨部门协调和资金安排，需延长整改时限。' END,
       format('{LIAISON}', unit_id),
       $created, submitted_on, 'online', NULL, NULL, NULL, $batch
FROM demo_plan
"""

_STEPS = f"""
INSERT INTO rectify_steps
WITH steps AS (
    SELECT submission_id, measure_id, round_id, unit_id,
           CASE kind WHEN 'done' THEN 'submit' WHEN 'progress' THEN 'report' ELSE 'request' END
               AS step,
           CASE kind WHEN 'done' THEN 'pending_review' WHEN 'progress' THEN 'recorded'
                     ELSE 'extension_pending' END AS state,
           format('{LIAISON}', unit_id) AS actor,
           'liaison' AS actor_role, submitted_on AS step_date, 1 AS k,
           CASE WHEN kind = 'done' THEN [$sha] ELSE [] END AS evidence,
           CASE WHEN kind = 'extension' THEN '涉及跨部门协调和资金安排，需延长整改时限。' END
               AS reason
    FROM demo_plan
    UNION ALL
    SELECT submission_id, measure_id, round_id, unit_id, 'pass', 'pending_close', '{REVIEWER}',
           'group', greatest(submitted_on, last_day - 2), 2, [], NULL
    FROM demo_plan WHERE plan IN ('pending_close', 'closed')
    UNION ALL
    SELECT submission_id, measure_id, round_id, unit_id, 'return', 'returned', '{REVIEWER}',
           'group', last_day, 2, [], '佐证材料不足以证明整改到位，请补充制度文件和落实记录。'
    FROM demo_plan WHERE plan = 'returned'
    UNION ALL
    SELECT submission_id, measure_id, round_id, unit_id, 'close', 'closed', '{APPROVER}',
           'office', last_day, 3, [$sha], NULL
    FROM demo_plan WHERE plan = 'closed'
)
SELECT row_number() OVER (ORDER BY step_date, submission_id, k) AS step_id, submission_id,
       measure_id, round_id, unit_id, step, state, actor, actor_role,
       $created - INTERVAL 1 DAY * ($created::DATE - step_date), step_date, reason, evidence,
       $batch
FROM steps
"""
