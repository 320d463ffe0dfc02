-- name: revisit_inspections
-- returns: the inspections in scope begun by the date (进驻 started, or fed back when the start is unknown), with their round and unit, for the 回头看 candidates (each unit's latest inspection fed back, and whether a 回头看 round came after it)
-- grain: one row per inspection_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  the date asked
-- columns:
--   inspection_id INTEGER  inspection
--   round_id INTEGER  round
--   round_name VARCHAR  round name
--   seq INTEGER  order of rounds
--   kind VARCHAR  round kind (常规/专项/回头看 …)
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit full name
--   short_name VARCHAR  unit short name
--   sector VARCHAR  sector
--   peer_group VARCHAR  peer group
--   entry_start DATE  start of 进驻
--   feedback_date DATE  反馈日期
--   fed_back BOOLEAN  fed back on or before the date
SELECT i.inspection_id, i.round_id, r.name AS round_name, r.seq, r.kind, i.unit_id,
       u.name AS unit_name, u.short_name, u.sector, u.peer_group, i.entry_start,
       i.feedback_date, i.feedback_date <= $as_of::DATE AS fed_back
FROM inspections i
JOIN rounds r ON r.round_id = i.round_id
JOIN units u ON u.unit_id = i.unit_id
WHERE in_inspections(i.inspection_id, $inspection_ids)
  AND coalesce(i.entry_start, i.feedback_date) <= $as_of::DATE
ORDER BY i.unit_id, r.seq
