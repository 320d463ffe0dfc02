-- name: clue_summary
-- returns: problem clues of the inspections in scope by routing and disposal, counts only (no clue rows), for the briefing's 线索处置 section
-- grain: one row per routing, disposal
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  only inspections fed back on or before this date count
-- columns:
--   routing VARCHAR  移交去向
--   disposal VARCHAR  处置方式 (NULL when none is recorded: clues handed to other bodies have none)
--   clues BIGINT  clues
--   persons BIGINT  persons involved
--   closed BIGINT  clues closed (办结) on or before the date
SELECT c.routing,
       c.disposal,
       count(*) AS clues,
       coalesce(sum(c.persons), 0)::BIGINT AS persons,
       count(*) FILTER (WHERE c.closed_on <= $as_of::DATE) AS closed
FROM clues c
JOIN inspections i USING (inspection_id)
WHERE in_inspections(c.inspection_id, $inspection_ids)
  AND i.feedback_date <= $as_of::DATE
GROUP BY ALL
ORDER BY routing, disposal NULLS LAST
