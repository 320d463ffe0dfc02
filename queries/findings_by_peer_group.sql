-- name: findings_by_peer_group
-- returns: findings per peer group and sector with the number of inspections, for comparing density
-- grain: one row per peer_group, sector
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: read the current-state summary rect_current instead of the timeline
-- columns:
--   peer_group VARCHAR  peer group
--   sector VARCHAR  sector
--   inspections BIGINT  inspections fed back by the date (with or without findings)
--   units BIGINT  distinct units inspected
--   findings BIGINT  findings
WITH i AS (
    SELECT i.inspection_id, i.unit_id, u.peer_group, u.sector
    FROM inspections i JOIN units u ON u.unit_id = i.unit_id
    WHERE ($inspection_ids::INTEGER[] IS NULL OR i.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND i.feedback_date <= $as_of::DATE
),
f AS (
    -- One source or the other: DuckDB drops the branch whose $current test is false.
    SELECT c.inspection_id, sum(c.findings) AS findings
    FROM rect_current c
    WHERE $current
      AND c.inspection_id IN (SELECT inspection_id FROM i)
      AND ($category_l1::VARCHAR[] IS NULL OR c.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR c.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
    GROUP BY c.inspection_id
    UNION ALL
    SELECT t.inspection_id, count(*) AS findings
    FROM finding_timeline t
    WHERE NOT $current
      AND t.inspection_id IN (SELECT inspection_id FROM i)
      AND ($category_l1::VARCHAR[] IS NULL OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
      AND t.valid_from <= $as_of::DATE AND (t.valid_to IS NULL OR t.valid_to > $as_of::DATE)
    GROUP BY t.inspection_id
)
SELECT i.peer_group, i.sector, count(*) AS inspections, count(DISTINCT i.unit_id) AS units,
       coalesce(sum(f.findings), 0)::BIGINT AS findings
FROM i LEFT JOIN f USING (inspection_id)
GROUP BY ALL
ORDER BY i.peer_group, findings DESC, i.sector
