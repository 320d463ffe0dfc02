-- name: evaluation_inspections
-- returns: the inspections in scope fed back by the date, each a unit in a round to be evaluated (整改成效评估), with the regulations made or revised (建章立制) from its outcome record
-- grain: one row per inspection_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  the date asked: inspections fed back after it are not evaluated yet
-- columns:
--   inspection_id INTEGER  inspection
--   round_id INTEGER  round
--   round_name VARCHAR  round name
--   seq INTEGER  order of rounds
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit (short name)
--   feedback_date DATE  反馈日期
--   regulations BIGINT  regulations made or revised (建章立制) in its outcome record (NULL: no record)
SELECT i.inspection_id, i.round_id, r.name AS round_name, r.seq, i.unit_id,
       u.short_name AS unit_name, i.feedback_date,
       (SELECT sum(o.regulations) FROM outcomes o
        WHERE o.inspection_id = i.inspection_id)::BIGINT AS regulations
FROM inspections i
JOIN rounds r ON r.round_id = i.round_id
JOIN units u ON u.unit_id = i.unit_id
WHERE in_inspections(i.inspection_id, $inspection_ids)
  AND i.feedback_date <= $as_of::DATE
ORDER BY r.seq, i.unit_id
