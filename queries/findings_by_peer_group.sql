-- name: findings_by_peer_group
-- returns: findings per peer group and sector with the number of inspections, for comparing density
-- grain: one row per peer_group, sector
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
-- columns:
--   peer_group VARCHAR  peer group
--   sector VARCHAR  sector
--   inspections BIGINT  inspections fed back by the date (with or without findings)
--   units BIGINT  distinct units inspected
--   findings BIGINT  findings
WITH i AS (
    SELECT i.inspection_id, i.unit_id, u.peer_group, u.sector
    FROM inspections i JOIN units u ON u.unit_id = i.unit_id
    WHERE in_inspections(i.inspection_id, $inspection_ids)
      AND i.feedback_date <= $as_of::DATE
),
f AS (
    -- The summaries of the inspections settled by the date, the timeline of those still
    -- active (lists.sql).
    SELECT c.inspection_id, sum(c.findings) AS findings
    FROM finding_cells_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) c
    GROUP BY c.inspection_id
)
SELECT i.peer_group, i.sector, count(*) AS inspections, count(DISTINCT i.unit_id) AS units,
       coalesce(sum(f.findings), 0)::BIGINT AS findings
FROM i LEFT JOIN f USING (inspection_id)
GROUP BY ALL
ORDER BY i.peer_group, findings DESC, i.sector
