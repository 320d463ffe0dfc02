-- name: common_problems
-- returns: common problems (共性问题) of each round: level-2 categories found in at least k units of the round, k = max($k_min, ceil($k_share × units inspected)), with the units listed (举一反三); the product is rounded to 9 decimals before ceil so 0.28 × 25 is 7, not 8
-- grain: one row per round_id, category_l2
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
--   $k_min INTEGER  the least number of units (default 3)
--   $k_share DOUBLE  the least share of units inspected in the round (default 0.3)
--   $round_from INTEGER  only rounds whose seq is at least this (NULL: from the first)
--   $round_to INTEGER  only rounds whose seq is at most this (NULL: to the last)
--   $with_names BOOLEAN  list the units of each problem (false: unit_names NULL, much cheaper: the rounds list of the page)
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
--   unit_names VARCHAR  the units, 、-separated (NULL when $with_names is false)
WITH ins AS (
    -- The inspections in scope of the rounds asked (small: one row each).
    SELECT i.inspection_id, i.unit_id, i.round_id, i.feedback_date
    FROM inspections i
    JOIN rounds r ON r.round_id = i.round_id
    WHERE in_inspections(i.inspection_id, $inspection_ids)
      AND ($round_from::INTEGER IS NULL OR r.seq >= $round_from)
      AND ($round_to::INTEGER IS NULL OR r.seq <= $round_to)
),
size AS (
    SELECT round_id, count(DISTINCT unit_id) AS units_inspected
    FROM ins
    WHERE feedback_date <= $as_of::DATE
    GROUP BY round_id
),
per_unit AS (
    -- One row per round, category and unit where the category was found, with its findings:
    -- the summaries of the inspections settled by the date (already one row per inspection,
    -- a unit in a round, × category), the timeline of those still active (lists.sql).
    SELECT i.round_id, c.category_l1, c.category_l2, i.unit_id, c.findings
    FROM finding_cells_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) c
    JOIN ins i ON i.inspection_id = c.inspection_id
    WHERE c.category_l2 IS NOT NULL
),
per AS (
    SELECT p.round_id, p.category_l1, p.category_l2, count(*) AS units_found,
           sum(p.findings)::BIGINT AS findings, s.units_inspected,
           greatest($k_min::INTEGER, ceil(round($k_share::DOUBLE * s.units_inspected, 9))::INTEGER) AS threshold
    FROM per_unit p
    JOIN size s ON s.round_id = p.round_id
    GROUP BY p.round_id, p.category_l1, p.category_l2, s.units_inspected
    HAVING count(*) >= threshold
),
names AS (
    -- The units of the common problems only (two units may share a short name).
    SELECT p.round_id, p.category_l1, p.category_l2,
           string_agg(DISTINCT u.short_name, '、' ORDER BY u.short_name) AS unit_names
    FROM per_unit p
    SEMI JOIN per c
      ON c.round_id = p.round_id AND c.category_l1 = p.category_l1 AND c.category_l2 = p.category_l2
    JOIN units u ON u.unit_id = p.unit_id
    WHERE $with_names
    GROUP BY p.round_id, p.category_l1, p.category_l2
)
SELECT p.round_id, r.name AS round_name, r.seq, p.category_l1, p.category_l2, c.name AS l2_name,
       p.units_found, p.units_inspected, p.threshold,
       round(p.units_found * 100.0 / p.units_inspected, 2)::DOUBLE AS unit_share,
       p.findings, n.unit_names
FROM per p
LEFT JOIN names n
  ON n.round_id = p.round_id AND n.category_l1 = p.category_l1 AND n.category_l2 = p.category_l2
JOIN rounds r ON r.round_id = p.round_id
JOIN category_l2 c ON c.code = p.category_l2
ORDER BY r.seq DESC, p.units_found DESC, p.category_l2
