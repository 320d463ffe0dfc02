-- name: findings_by_category
-- returns: findings per level-2 category with its level 1, as of a date, for the treemap and category tables
-- grain: one row per category_l2
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
-- columns:
--   category_l1 VARCHAR  level-1 code
--   l1_name VARCHAR  level-1 name
--   category_l2 VARCHAR  level-2 code
--   l2_name VARCHAR  level-2 name
--   findings BIGINT  findings
--   units BIGINT  units with such findings
--   findings_done BIGINT  of which DONE
SELECT t.category_l1, c1.name AS l1_name, coalesce(t.category_l2, 'Z99') AS category_l2,
       coalesce(c2.name, '其他') AS l2_name,
       count(*) AS findings, count(DISTINCT t.unit_id) AS units,
       count(*) FILTER (WHERE t.status = 'DONE') AS findings_done
FROM finding_timeline t
JOIN category_l1 c1 ON c1.code = t.category_l1
LEFT JOIN category_l2 c2 ON c2.code = t.category_l2
WHERE ($inspection_ids::INTEGER[] IS NULL OR t.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
  AND ($category_l1::VARCHAR[] IS NULL OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
  AND ($category_l2::VARCHAR[] IS NULL OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
  AND t.valid_from <= $as_of::DATE AND (t.valid_to IS NULL OR t.valid_to > $as_of::DATE)
GROUP BY ALL
ORDER BY category_l2
