-- name: common_problem_rounds
-- returns: the rounds having common problems (共性问题, as common_problems defines them, k = max($k_min, ceil($k_share × units inspected))) and how many level-2 categories are common in each, latest round first; lists the rounds without reading the unit names
-- grain: one row per round_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  true when as_of is on or after the store's settled_on (the current-state summary holds)
--   $k_min INTEGER  the least number of units (default 3)
--   $k_share DOUBLE  the least share of units inspected in the round (default 0.3)
-- columns:
--   round_id INTEGER  round
--   round_name VARCHAR  round name
--   seq INTEGER  round order
--   problems BIGINT  common level-2 categories of the round (rows of common_problems)
WITH ins AS (
    -- The inspections in scope (small: one row each).
    SELECT inspection_id, unit_id, round_id, feedback_date
    FROM inspections
    WHERE ($inspection_ids::INTEGER[] IS NULL OR inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
),
size AS (
    SELECT round_id, count(DISTINCT unit_id) AS units_inspected
    FROM ins
    WHERE feedback_date <= $as_of::DATE
    GROUP BY round_id
),
per_unit AS (
    -- One row per round, category and unit where the category was found.
    -- On or after settled_on: the current-state summary, whose rows are already one per
    -- inspection (a unit in a round) × level-1 × level-2 category. Before: the timeline rows
    -- holding on the date. DuckDB drops the branch whose $current test is false.
    SELECT i.round_id, c.category_l1, c.category_l2, i.unit_id
    FROM rect_current c
    JOIN ins i ON i.inspection_id = c.inspection_id
    WHERE $current
      AND ($category_l1::VARCHAR[] IS NULL OR c.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR c.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
      AND c.category_l2 IS NOT NULL
    UNION ALL
    SELECT i.round_id, t.category_l1, t.category_l2, i.unit_id
    FROM finding_timeline t
    JOIN ins i ON i.inspection_id = t.inspection_id
    WHERE NOT $current
      AND ($category_l1::VARCHAR[] IS NULL OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
      AND t.valid_from <= $as_of::DATE AND (t.valid_to IS NULL OR t.valid_to > $as_of::DATE)
      AND t.category_l2 IS NOT NULL
    GROUP BY i.round_id, t.category_l1, t.category_l2, i.unit_id
),
per AS (
    SELECT p.round_id, p.category_l1, p.category_l2,
           greatest($k_min::INTEGER, ceil(round($k_share::DOUBLE * s.units_inspected, 9))::INTEGER) AS threshold
    FROM per_unit p
    JOIN size s ON s.round_id = p.round_id
    GROUP BY p.round_id, p.category_l1, p.category_l2, s.units_inspected
    HAVING count(*) >= threshold
)
SELECT p.round_id, r.name AS round_name, r.seq, count(*) AS problems
FROM per p
JOIN rounds r ON r.round_id = p.round_id
GROUP BY p.round_id, r.name, r.seq
ORDER BY r.seq DESC
