-- name: common_problems
-- returns: common problems (共性问题) of each round: level-2 categories found in at least k units of the round, k = max($k_min, ceil($k_share × units inspected)), with the units listed (举一反三); the product is rounded to 9 decimals before ceil so 0.28 × 25 is 7, not 8
-- grain: one row per round_id, category_l2
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $k_min INTEGER  the least number of units (default 3)
--   $k_share DOUBLE  the least share of units inspected in the round (default 0.3)
-- columns:
--   round_id INTEGER  round
--   round_name VARCHAR  round name
--   seq INTEGER  round order
--   category_l1 VARCHAR  level-1 code
--   category_l2 VARCHAR  level-2 code
--   l2_name VARCHAR  level-2 name
--   units_found BIGINT  units of the round where the category was found
--   units_inspected BIGINT  units of the round in scope fed back by the date
--   threshold INTEGER  k for that round
--   unit_share DOUBLE  units_found ÷ units_inspected, percent, two decimals
--   findings BIGINT  findings of the category in the round
--   unit_names VARCHAR  the units, 、-separated
WITH t AS (
    SELECT t.*
    FROM finding_timeline t
    WHERE ($inspection_ids::INTEGER[] IS NULL OR t.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND ($category_l1::VARCHAR[] IS NULL OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
      AND t.valid_from <= $as_of::DATE AND (t.valid_to IS NULL OR t.valid_to > $as_of::DATE)
      AND t.category_l2 IS NOT NULL
),
size AS (
    SELECT round_id, count(DISTINCT unit_id) AS units_inspected
    FROM inspections
    WHERE ($inspection_ids::INTEGER[] IS NULL OR inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND feedback_date <= $as_of::DATE
    GROUP BY round_id
),
per AS (
    SELECT t.round_id, t.category_l1, t.category_l2, count(DISTINCT t.unit_id) AS units_found,
           count(*) AS findings,
           string_agg(DISTINCT u.short_name, '、' ORDER BY u.short_name) AS unit_names
    FROM t JOIN units u ON u.unit_id = t.unit_id
    GROUP BY ALL
)
SELECT p.round_id, r.name AS round_name, r.seq, p.category_l1, p.category_l2, c.name AS l2_name,
       p.units_found, s.units_inspected,
       greatest($k_min::INTEGER, ceil(round($k_share::DOUBLE * s.units_inspected, 9))::INTEGER) AS threshold,
       round(p.units_found * 100.0 / s.units_inspected, 2)::DOUBLE AS unit_share,
       p.findings, p.unit_names
FROM per p
JOIN size s ON s.round_id = p.round_id
JOIN rounds r ON r.round_id = p.round_id
JOIN category_l2 c ON c.code = p.category_l2
WHERE p.units_found >= greatest($k_min::INTEGER, ceil(round($k_share::DOUBLE * s.units_inspected, 9))::INTEGER)
ORDER BY r.seq DESC, p.units_found DESC, p.category_l2
