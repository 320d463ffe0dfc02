-- name: ecology_rounds
-- returns: the rounds of the inspections in scope that were fed back by the date, each with its inspections, for scoring round by round (the trend of the political-ecology scorecards)
-- grain: one row per round_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  the date asked
-- columns:
--   round_id INTEGER  round
--   round_name VARCHAR  round name
--   seq INTEGER  order of rounds
--   kind VARCHAR  round kind
--   inspections BIGINT  inspections of the round in scope fed back by the date
--   last_feedback DATE  the latest 反馈日期 among them
--   inspection_ids INTEGER[]  those inspections, ascending
SELECT r.round_id, r.name AS round_name, r.seq, r.kind, count(*) AS inspections,
       max(i.feedback_date) AS last_feedback,
       list(i.inspection_id ORDER BY i.inspection_id)::INTEGER[] AS inspection_ids
FROM inspections i
JOIN rounds r ON r.round_id = i.round_id
WHERE in_inspections(i.inspection_id, $inspection_ids)
  AND i.feedback_date <= $as_of::DATE
GROUP BY r.round_id, r.name, r.seq, r.kind
ORDER BY r.seq
