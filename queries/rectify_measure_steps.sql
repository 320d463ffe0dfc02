-- name: rectify_measure_steps
-- returns: every step of every submission on one measure, oldest first (its history as the unit and the commission see it)
-- grain: one row per step_id
-- params:
--   $inspection_ids INTEGER[]  inspections the reader may see (NULL: every inspection)
--   $measure_id INTEGER  the measure
-- columns:
--   step_id BIGINT  step
--   submission_id INTEGER  its submission
--   kind VARCHAR  progress, done or extension
--   step VARCHAR  report, submit, pass, return, close, request, approve, reject
--   state VARCHAR  state after the step
--   actor VARCHAR  account
--   actor_role VARCHAR  role of the account
--   step_date DATE  date of the step
--   acted_at TIMESTAMP  time of the step
--   status VARCHAR  status reported
--   progress VARCHAR  整改进展 reported
--   completed_on DATE  completion date reported
--   proposed_deadline DATE  deadline asked for
--   reason VARCHAR  reason given at the step
--   evidence VARCHAR[]  SHA-256 of the evidence files of the step
SELECT st.step_id, st.submission_id, s.kind, st.step, st.state, st.actor, st.actor_role,
       st.step_date, st.acted_at, s.status, s.progress, s.completed_on, s.proposed_deadline,
       coalesce(st.reason, CASE WHEN st.step = 'request' THEN s.reason END) AS reason,
       st.evidence
FROM rectify_steps st
JOIN rectify_submissions s USING (submission_id)
WHERE st.measure_id = $measure_id
  AND in_inspections(s.inspection_id, $inspection_ids)
ORDER BY st.step_id
