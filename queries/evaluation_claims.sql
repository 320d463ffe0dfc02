-- name: evaluation_claims
-- returns: for each inspection in scope having such measures, the measures not DONE on the date that the unit itself reports as done: status 基本完成/阶段性完成 (PHASED) on the date, or a done claim submitted online still awaiting review or 销号 on the date (the 表面整改 side of 自报完成率)
-- grain: one row per inspection_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  the date asked: statuses and steps on or before it
-- columns:
--   inspection_id INTEGER  inspection
--   claimed_not_done BIGINT  measures not DONE on the date but reported done or basically done by the unit
--   phased BIGINT  of those, measures whose status on the date is PHASED
--   pending_claims BIGINT  of those, measures with a done claim awaiting review or 销号 on the date
WITH state AS (
    SELECT t.measure_id, t.inspection_id, t.status
    FROM measure_at($as_of, $inspection_ids, NULL, NULL) t
),
claim_state AS (
    SELECT s.submission_id, s.measure_id, arg_max(st.state, st.step_id) AS state
    FROM rectify_submissions s
    JOIN rectify_steps st USING (submission_id)
    WHERE s.kind = 'done' AND st.step_date <= $as_of::DATE
      AND in_inspections(s.inspection_id, $inspection_ids)
    GROUP BY ALL
),
open_claims AS (
    SELECT DISTINCT measure_id FROM claim_state
    WHERE state IN ('pending_review', 'pending_close')
),
marked AS (
    SELECT st.inspection_id, st.status = 'PHASED' AS phased,
           oc.measure_id IS NOT NULL AS pending
    FROM state st
    LEFT JOIN open_claims oc ON oc.measure_id = st.measure_id
    WHERE st.status <> 'DONE'
)
SELECT inspection_id,
       count(*) FILTER (WHERE phased OR pending) AS claimed_not_done,
       count(*) FILTER (WHERE phased) AS phased,
       count(*) FILTER (WHERE pending) AS pending_claims
FROM marked
GROUP BY inspection_id
HAVING count(*) FILTER (WHERE phased OR pending) > 0
ORDER BY inspection_id
