-- name: rectify_roundtrip_feedback
-- returns: the 反馈日期 of each inspection a unit may report on (a reported completion date may not precede it)
-- grain: one row per inspection_id
-- params:
--   $inspection_ids INTEGER[]  inspections the reader may see (NULL: every inspection)
-- columns:
--   inspection_id INTEGER  inspection
--   feedback_date DATE  反馈日期
SELECT i.inspection_id, i.feedback_date
FROM inspections i
WHERE in_inspections(i.inspection_id, $inspection_ids)
ORDER BY i.inspection_id
