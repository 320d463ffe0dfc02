-- name: rectify_queue
-- returns: online submissions (progress, done claims, extension requests) with their current state, for the work queues of the liaison, the reviewer and the approver
-- grain: one row per submission_id
-- params:
--   $inspection_ids INTEGER[]  inspections the reader may see (NULL: every inspection)
--   $states VARCHAR[]  current states listed (NULL: all): pending_review, pending_close, returned, closed, recorded, extension_pending, extension_approved, extension_rejected
--   $measure_id INTEGER  only this measure's submissions (NULL: every measure)
-- columns:
--   submission_id INTEGER  submission
--   measure_id INTEGER  its measure
--   finding_id INTEGER  its finding
--   inspection_id INTEGER  its inspection
--   round_name VARCHAR  round
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit (short name)
--   title VARCHAR  具体问题
--   measure_text VARCHAR  整改措施
--   kind VARCHAR  progress, done or extension
--   status VARCHAR  the status reported
--   progress VARCHAR  整改进展 as reported
--   completed_on DATE  completion date reported
--   proposed_deadline DATE  deadline asked for (extension)
--   reason VARCHAR  reason of the extension request
--   submitted_by VARCHAR  account that submitted
--   submitted_on DATE  date submitted
--   state VARCHAR  current state (the state of the last step)
--   state_on DATE  date of the last step
--   last_actor VARCHAR  account of the last step
--   last_reason VARCHAR  reason given at the last step (return, decision)
--   reviewer VARCHAR  account that passed it in review (NULL: not passed)
--   deadline_original DATE  original deadline of the measure
--   deadline_current DATE  current deadline of the measure
--   evidence_files BIGINT  evidence files attached
--   measure_returns BIGINT  returns recorded on this measure so far
WITH last AS (
    SELECT submission_id, arg_max(state, step_id) AS state, max(step_date) AS state_on,
           arg_max(actor, step_id) AS last_actor, arg_max(reason, step_id) AS last_reason,
           arg_max(actor, step_id) FILTER (WHERE step = 'pass') AS reviewer
    FROM rectify_steps GROUP BY ALL
),
returns AS (
    SELECT measure_id, count(*) AS n FROM rectify_steps WHERE step = 'return' GROUP BY ALL
),
files AS (
    SELECT submission_id, count(*) AS n FROM submission_evidence GROUP BY ALL
)
SELECT s.submission_id, s.measure_id, s.finding_id, s.inspection_id, r.name AS round_name,
       s.unit_id, u.short_name AS unit_name, f.title, m.text AS measure_text, s.kind, s.status,
       s.progress, s.completed_on, s.proposed_deadline, s.reason, s.submitted_by,
       s.submitted_on, l.state, l.state_on, l.last_actor, l.last_reason, l.reviewer,
       m.deadline_original, m.deadline_current, coalesce(fi.n, 0) AS evidence_files,
       coalesce(rt.n, 0) AS measure_returns
FROM rectify_submissions s
JOIN last l USING (submission_id)
JOIN measures m ON m.measure_id = s.measure_id
JOIN findings f ON f.finding_id = s.finding_id
JOIN units u ON u.unit_id = s.unit_id
JOIN rounds r ON r.round_id = s.round_id
LEFT JOIN files fi ON fi.submission_id = s.submission_id
LEFT JOIN returns rt ON rt.measure_id = s.measure_id
WHERE in_inspections(s.inspection_id, $inspection_ids)
  AND in_list(l.state, $states::VARCHAR[])
  AND ($measure_id::INTEGER IS NULL OR s.measure_id = $measure_id)
ORDER BY s.submitted_on, s.submission_id
