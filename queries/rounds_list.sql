-- name: rounds_list
-- returns: every round with its counts of inspected units, for filters and labels
-- grain: one row per round_id
-- params:
-- columns:
--   round_id INTEGER  round
--   name VARCHAR  round name
--   term VARCHAR  term (届)
--   seq INTEGER  order of rounds
--   kind VARCHAR  round kind
--   start_date DATE  start
--   end_date DATE  end
--   units_inspected BIGINT  units inspected in the round
--   first_feedback DATE  earliest 反馈日期 of the round
SELECT r.round_id, r.name, r.term, r.seq, r.kind, r.start_date, r.end_date,
       count(i.inspection_id) AS units_inspected,
       min(i.feedback_date) AS first_feedback
FROM rounds r
LEFT JOIN inspections i ON i.round_id = r.round_id
GROUP BY ALL
ORDER BY r.seq
