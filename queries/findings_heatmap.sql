-- name: findings_heatmap
-- returns: the cells of 问题分布's heatmap: findings per unit and category (as findings_by_unit_category) of the $limit units with most findings in the categories shown, as of a date; the units are chosen here so that only their cells leave the database (a province has ~15,000 units, the heatmap shows at most 80)
-- grain: one row per unit_id, category
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
--   $level INTEGER  1 for level-1 categories, 2 for level 2
--   $category VARCHAR  only the categories whose code starts with this (the level-1 code drilled into; NULL: all)
--   $limit INTEGER  how many units at most: those with most findings in the categories shown, ties by unit_id (NULL: all)
-- columns:
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit short name
--   peer_group VARCHAR  its peer group
--   category VARCHAR  category code (A…, or A01…)
--   category_name VARCHAR  category name
--   findings BIGINT  findings
WITH cells AS (
    -- Findings per unit and category code on the date (lists.sql): integers and short codes
    -- only; the names are joined to the cells returned.
    SELECT unit_id,
           CASE WHEN $level = 2 THEN coalesce(category_l2, 'Z99') ELSE category_l1 END
               AS category,
           CASE WHEN $level = 2 THEN bool_or(category_l2 IS NOT NULL) END AS named_l2,
           any_value(category_l1) AS category_l1,
           sum(findings)::BIGINT AS findings
    FROM finding_cells_at($as_of, $current, $inspection_ids, $category_l1, $category_l2)
    GROUP BY ALL
),
shown AS (
    SELECT * FROM cells
    WHERE $category::VARCHAR IS NULL OR starts_with(category, $category)
),
top AS (
    SELECT unit_id
    FROM shown
    GROUP BY unit_id
    ORDER BY sum(findings) DESC, unit_id
    LIMIT $limit
)
SELECT s.unit_id, u.short_name AS unit_name, u.peer_group, s.category,
       CASE WHEN $level = 2 THEN (CASE WHEN s.named_l2 THEN c2.name END) ELSE c1.name END
           AS category_name,
       s.findings
FROM shown s
SEMI JOIN top t ON t.unit_id = s.unit_id
JOIN units u ON u.unit_id = s.unit_id
JOIN category_l1 c1 ON c1.code = CASE WHEN $level = 2 THEN s.category_l1 ELSE s.category END
LEFT JOIN category_l2 c2 ON c2.code = s.category
ORDER BY s.unit_id, s.category
