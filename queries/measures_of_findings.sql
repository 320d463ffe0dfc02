-- name: measures_of_findings
-- returns: the measures of given findings with their status and deadline as of a date (drill-down)
-- grain: one row per measure_id
-- params:
--   $finding_ids INTEGER[]  the findings
--   $as_of DATE  the date asked
-- columns:
--   measure_id INTEGER  measure
--   finding_id INTEGER  its finding
--   text VARCHAR  整改措施
--   lead_person VARCHAR  责任领导
--   department VARCHAR  责任部门
--   deadline_text VARCHAR  时限原文
--   deadline DATE  deadline in force on the date
--   status VARCHAR  status on the date
--   status_text VARCHAR  status as the unit wrote it (latest ledger)
--   completed_on DATE  completion date (if DONE on the date)
SELECT t.measure_id, t.finding_id, m.text, m.lead_person, m.department, m.deadline_text,
       t.deadline, t.status, m.status_text, t.completed_on
FROM measure_at($as_of, NULL, NULL, NULL) t
JOIN measures m ON m.measure_id = t.measure_id
WHERE t.finding_id IN (SELECT unnest($finding_ids::INTEGER[]))
ORDER BY t.finding_id, t.measure_id
