-- name: notice_measure_details
-- returns: what a 预警提醒 or 督办函 says of each measure of some findings: its unit, round, problem, measure text and the people responsible as written
-- grain: one row per measure_id
-- params:
--   $finding_ids INTEGER[]  the findings whose measures are listed
-- columns:
--   measure_id INTEGER  measure
--   finding_id INTEGER  its finding
--   unit_id INTEGER  its unit
--   unit_name VARCHAR  unit (full name)
--   unit_short_name VARCHAR  unit (short name)
--   round_name VARCHAR  round
--   title VARCHAR  具体问题
--   text VARCHAR  整改措施
--   lead_person VARCHAR  责任领导
--   department VARCHAR  责任部门
--   person VARCHAR  责任人
--   deadline_text VARCHAR  整改时限 as the ledger wrote it
SELECT m.measure_id, m.finding_id, f.unit_id, u.name AS unit_name, u.short_name AS unit_short_name,
       r.name AS round_name, f.title, m.text, m.lead_person, m.department, m.person,
       m.deadline_text
FROM measures m
JOIN findings f ON f.finding_id = m.finding_id
JOIN units u ON u.unit_id = f.unit_id
JOIN rounds r ON r.round_id = f.round_id
WHERE m.finding_id IN (SELECT unnest($finding_ids::INTEGER[]))
ORDER BY f.unit_id, m.finding_id, m.measure_id
