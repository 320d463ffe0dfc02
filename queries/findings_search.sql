-- name: findings_search
-- returns: the findings in scope as of a date whose 具体问题 or 具体表现 contains every term (literally, case as typed), in the listing's order (latest round first); the dashboard answers the same from memory (xuncha.figures.search), this is its definition and the command line's
-- grain: one row per finding_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked: findings fed back on or before it
--   $terms VARCHAR[]  the terms, every one required (each in the title or the detail)
-- columns:
--   finding_id INTEGER  finding
SELECT f.finding_id
FROM findings f
JOIN inspections i ON i.inspection_id = f.inspection_id
JOIN rounds r ON r.round_id = f.round_id
WHERE in_scope(f.inspection_id, f.category_l1, f.category_l2,
           $inspection_ids, $category_l1, $category_l2)
  AND i.feedback_date <= $as_of::DATE
  AND len($terms::VARCHAR[]) > 0
  AND list_bool_and(list_transform($terms::VARCHAR[],
        lambda x: contains(f.title, x) OR contains(coalesce(f.detail, ''), x)))
ORDER BY r.seq DESC, f.unit_id, f.finding_id
