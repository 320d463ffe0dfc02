-- name: findings_by_unit_category
-- returns: findings per unit and category (level 1, or level 2 when $level = 2), as of a date, for the heatmap
-- grain: one row per unit_id, category
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
--   $level INTEGER  1 for level-1 categories, 2 for level 2
-- columns:
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit short name
--   peer_group VARCHAR  its peer group
--   category VARCHAR  category code (A…, or A01…)
--   category_name VARCHAR  category name
--   findings BIGINT  findings
WITH base AS (
    -- Findings in scope on the date, per inspection and category (the summaries of the
    -- inspections settled by then, the timeline of those still active: lists.sql).
    SELECT unit_id, category_l1, category_l2, findings
    FROM finding_cells_at($as_of, $current, $inspection_ids, $category_l1, $category_l2)
)
SELECT b.unit_id, u.short_name AS unit_name, u.peer_group,
       CASE WHEN $level = 2 THEN coalesce(b.category_l2, 'Z99') ELSE b.category_l1 END AS category,
       any_value(CASE WHEN $level = 2 THEN c2.name ELSE c1.name END) AS category_name,
       sum(b.findings)::BIGINT AS findings
FROM base b
JOIN units u ON u.unit_id = b.unit_id
JOIN category_l1 c1 ON c1.code = b.category_l1
LEFT JOIN category_l2 c2 ON c2.code = b.category_l2
GROUP BY b.unit_id, u.short_name, u.peer_group, category
ORDER BY b.unit_id, category
