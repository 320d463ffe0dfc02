-- The derived timelines, rebuilt from the base tables at every write (schema.refresh_derived):
-- one definition of a measure's and a finding's status as of any date (DOMAIN.md §5).

-- A measure's status and deadline as of any date: one row per interval between recorded
-- changes. When two records share a date, the later-recorded one (higher history_id) wins,
-- even when it records "no deadline" (arg_max_null keeps NULLs). Nothing is in scope before
-- the 反馈日期, so intervals are clipped to start there. The on-time outcome is fixed at
-- completion: the completion date against the original deadline, and against the current
-- deadline of the completion: the one the report recording the completion recorded with it,
-- if it recorded one, else the one in force on the completion date. Later extensions never
-- change it.
CREATE OR REPLACE TABLE measure_timeline AS
WITH status_by_day AS (
    SELECT measure_id, status_date AS d, arg_max_null(status, history_id) AS status
    FROM measure_status_history GROUP BY ALL
),
deadline_by_day AS (
    SELECT measure_id, effective_date AS d, arg_max_null(deadline, history_id) AS deadline
    FROM measure_deadline_history GROUP BY ALL
),
first_status AS (
    SELECT measure_id, min(d) AS first_d FROM status_by_day GROUP BY ALL
),
events AS (
    SELECT measure_id, d FROM status_by_day
    UNION
    SELECT dl.measure_id, dl.d FROM deadline_by_day dl
    JOIN first_status fs ON fs.measure_id = dl.measure_id AND dl.d >= fs.first_d
),
intervals AS (
    SELECT measure_id, d AS valid_from,
           lead(d) OVER (PARTITION BY measure_id ORDER BY d) AS valid_to
    FROM events
),
with_status AS (
    SELECT i.*, s.status
    FROM intervals i ASOF JOIN status_by_day s ON i.measure_id = s.measure_id AND i.valid_from >= s.d
),
with_deadline AS (
    SELECT w.*, dl.deadline AS recorded_deadline, dl.d IS NOT NULL AS recorded
    FROM with_status w
    ASOF LEFT JOIN deadline_by_day dl ON w.measure_id = dl.measure_id AND w.valid_from >= dl.d
),
-- The completion date is the one the ledger wrote. When none was written it stays unknown:
-- such a measure counts as DONE but is left out of the on-time rates and 整改周期 rather than
-- dated by the ledger's 截至时间 (which would make work finished on time look late).
completion AS (
    SELECT m.measure_id, m.deadline_original, m.completed_on
    FROM measures m
    WHERE m.completed_on IS NOT NULL
      AND EXISTS (SELECT 1 FROM status_by_day s WHERE s.measure_id = m.measure_id
                  AND s.status = 'DONE')
),
-- The report that recorded the completion: the first DONE record after the measure's last
-- record of another status (records in the order the timeline reads them: by date, then by
-- history_id). A report is one ledger batch or one online step: one batch_id, one date.
status_back AS (
    SELECT measure_id, batch_id, status_date, status,
           row_number() OVER (PARTITION BY measure_id
                              ORDER BY status_date DESC, history_id DESC) AS back
    FROM measure_status_history
),
done_run AS (
    SELECT measure_id,
           coalesce(min(back) FILTER (WHERE status <> 'DONE'), max(back) + 1) - 1 AS back
    FROM status_back GROUP BY ALL
),
completing AS (
    SELECT b.measure_id, b.batch_id, b.status_date
    FROM status_back b JOIN done_run r ON r.measure_id = b.measure_id AND r.back = b.back
),
-- A deadline recorded by that same report (a ledger stating 延期至… and 已完成 together, whose
-- 截至时间 is after the completion date): the last one it recorded.
reported_deadline AS (
    SELECT c.measure_id, arg_max_null(d.deadline, d.history_id) AS deadline
    FROM completing c
    JOIN measure_deadline_history d
      ON d.measure_id = c.measure_id AND d.batch_id = c.batch_id
     AND d.effective_date = c.status_date
    GROUP BY ALL
),
outcome AS (
    SELECT c.measure_id, c.completed_on,
           c.completed_on <= c.deadline_original AS on_time_original,
           c.completed_on <= CASE WHEN rd.measure_id IS NOT NULL THEN rd.deadline
                                  WHEN dl.d IS NOT NULL THEN dl.deadline
                                  ELSE c.deadline_original END AS on_time_current
    FROM completion c
    ASOF LEFT JOIN deadline_by_day dl ON c.measure_id = dl.measure_id AND c.completed_on >= dl.d
    LEFT JOIN reported_deadline rd ON rd.measure_id = c.measure_id
)
SELECT w.measure_id, m.finding_id, f.inspection_id, f.round_id, f.unit_id,
       f.category_l1, f.category_l2, i.feedback_date,
       greatest(w.valid_from, i.feedback_date, coalesce(f.recorded_on, i.feedback_date))
           AS valid_from, w.valid_to, w.status,
       CASE WHEN w.recorded THEN w.recorded_deadline ELSE m.deadline_original END AS deadline,
       m.deadline_original,
       CASE WHEN w.status = 'DONE' THEN o.completed_on END AS completed_on,
       CASE WHEN w.status = 'DONE' THEN o.on_time_original END AS on_time_original,
       CASE WHEN w.status = 'DONE' THEN o.on_time_current END AS on_time_current
FROM with_deadline w
JOIN measures m USING (measure_id)
JOIN findings f ON f.finding_id = m.finding_id
JOIN inspections i ON i.inspection_id = f.inspection_id
LEFT JOIN outcome o ON o.measure_id = w.measure_id
WHERE w.valid_to IS NULL
   OR w.valid_to > greatest(i.feedback_date, coalesce(f.recorded_on, i.feedback_date))
ORDER BY f.round_id, f.unit_id, w.measure_id, valid_from;

-- A finding's status as of any date, derived from its measures' statuses on that date:
-- DONE when every measure is DONE; BASICALLY_DONE when the rest are PHASED or LONG_TERM;
-- otherwise OPEN (DOMAIN.md §5, strict completion).
CREATE OR REPLACE TABLE finding_timeline_base AS
WITH events AS (
    SELECT finding_id, valid_from AS d FROM measure_timeline
    UNION
    SELECT f.finding_id, greatest(i.feedback_date, coalesce(f.recorded_on, i.feedback_date))
    FROM findings f
    JOIN inspections i ON i.inspection_id = f.inspection_id
),
intervals AS (
    SELECT finding_id, d AS valid_from,
           lead(d) OVER (PARTITION BY finding_id ORDER BY d) AS valid_to
    FROM events
),
agg AS (
    SELECT e.finding_id, e.valid_from, e.valid_to,
           count(m.measure_id) AS measures,
           count(*) FILTER (WHERE m.status = 'DONE') AS measures_done,
           count(*) FILTER (WHERE m.status IN ('PHASED', 'LONG_TERM')) AS measures_basic,
           min(m.deadline) FILTER (WHERE m.status <> 'DONE') AS earliest_open_deadline,
           max(m.completed_on) FILTER (WHERE m.status = 'DONE') AS last_completed_on
    FROM intervals e
    LEFT JOIN measure_timeline m
      ON m.finding_id = e.finding_id
     AND valid_on(m.valid_from, m.valid_to, e.valid_from)
    GROUP BY ALL
)
SELECT a.finding_id, f.inspection_id, f.round_id, f.unit_id, f.category_l1, f.category_l2,
       i.feedback_date, a.valid_from, a.valid_to,
       CASE WHEN a.measures = 0 THEN 'OPEN'
            WHEN a.measures_done = a.measures THEN 'DONE'
            WHEN a.measures_done + a.measures_basic = a.measures THEN 'BASICALLY_DONE'
            ELSE 'OPEN' END AS status,
       a.measures, a.measures_done, a.earliest_open_deadline,
       CASE WHEN a.measures > 0 AND a.measures_done = a.measures THEN a.last_completed_on END
           AS done_on
FROM agg a
JOIN findings f USING (finding_id)
JOIN inspections i ON i.inspection_id = f.inspection_id;

-- 重复问题: same unit, same L2, an earlier round (by seq). 反弹: that earlier finding was
-- DONE on the later finding's 反馈日期 (found again after it was closed).
CREATE OR REPLACE TABLE finding_repeats AS
WITH fx AS (
    SELECT f.finding_id, f.unit_id, f.category_l2, r.seq, i.feedback_date, f.round_id
    FROM findings f
    JOIN inspections i ON i.inspection_id = f.inspection_id
    JOIN rounds r ON r.round_id = f.round_id
    WHERE f.category_l2 IS NOT NULL
),
pairs AS (
    SELECT a.finding_id, b.finding_id AS earlier_id, b.round_id AS earlier_round_id,
           t.status = 'DONE' AS earlier_done
    FROM fx a
    JOIN fx b ON a.unit_id = b.unit_id AND a.category_l2 = b.category_l2 AND b.seq < a.seq
    LEFT JOIN finding_timeline_base t
      ON t.finding_id = b.finding_id
     AND valid_on(t.valid_from, t.valid_to, a.feedback_date)
)
SELECT f.finding_id,
       count(p.earlier_id) > 0 AS is_repeat,
       coalesce(bool_or(p.earlier_done), false) AS is_rebound,
       list(DISTINCT p.earlier_id ORDER BY p.earlier_id) FILTER (WHERE p.earlier_id IS NOT NULL)
           AS earlier_finding_ids,
       list(DISTINCT p.earlier_round_id ORDER BY p.earlier_round_id)
           FILTER (WHERE p.earlier_round_id IS NOT NULL) AS earlier_round_ids
FROM findings f
LEFT JOIN pairs p ON p.finding_id = f.finding_id
GROUP BY f.finding_id;

CREATE OR REPLACE TABLE finding_timeline AS
SELECT b.*, r.is_repeat, r.is_rebound
FROM finding_timeline_base b
JOIN finding_repeats r USING (finding_id)
ORDER BY b.round_id, b.unit_id, b.finding_id, b.valid_from;

DROP TABLE IF EXISTS finding_timeline_base;
