-- name: inspections_list
-- returns: every inspection (round × unit) with its group and dates, for choosing where a ledger goes
-- grain: one row per inspection_id
-- params:
-- columns:
--   inspection_id INTEGER  inspection
--   round_id INTEGER  round
--   round_name VARCHAR  round name
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit full name
--   short_name VARCHAR  unit short name
--   group_name VARCHAR  inspection group
--   entry_end DATE  end of 进驻
--   feedback_date DATE  反馈日期
SELECT i.inspection_id, i.round_id, r.name AS round_name, i.unit_id, u.name AS unit_name,
       u.short_name, i.group_name, i.entry_end, i.feedback_date
FROM inspections i
JOIN rounds r ON r.round_id = i.round_id
JOIN units u ON u.unit_id = i.unit_id
ORDER BY r.seq DESC, u.unit_id
