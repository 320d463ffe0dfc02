-- name: categories_list
-- returns: the category dictionary, level 2 with its level 1
-- grain: one row per category_l2
-- params:
-- columns:
--   category_l1 VARCHAR  level-1 code
--   l1_name VARCHAR  level-1 name
--   category_l2 VARCHAR  level-2 code
--   l2_name VARCHAR  level-2 name
SELECT c1.code AS category_l1, c1.name AS l1_name, c2.code AS category_l2, c2.name AS l2_name
FROM category_l2 c2
JOIN category_l1 c1 ON c1.code = c2.category_l1
ORDER BY c2.code
