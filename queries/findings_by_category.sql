-- name: findings_by_category
-- returns: findings per level-2 category with its level 1, as of a date, for the treemap and category tables
-- grain: one row per category_l2
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
-- columns:
--   category_l1 VARCHAR  level-1 code
--   l1_name VARCHAR  level-1 name
--   category_l2 VARCHAR  level-2 code
--   l2_name VARCHAR  level-2 name
--   findings BIGINT  findings
--   units BIGINT  units with such findings
--   findings_done BIGINT  of which DONE
WITH base AS (
    -- Findings in scope on the date, per inspection and category (the summaries of the
    -- inspections settled by then, the timeline of those still active: lists.sql).
    SELECT unit_id, category_l1, category_l2, findings, findings_done
    FROM finding_cells_at($as_of, $current, $inspection_ids, $category_l1, $category_l2)
),
per_unit AS (
    -- Inspections chosen: the units counted over the cells. Two steps instead of
    -- count(DISTINCT): far cheaper over many rows.
    SELECT category_l1, category_l2, unit_id,
           sum(findings) AS findings, sum(findings_done) AS findings_done
    FROM base
    WHERE $inspection_ids IS NOT NULL
    GROUP BY ALL
),
by_category AS (
    SELECT category_l1, category_l2, sum(findings) AS findings, count(*) AS units,
           sum(findings_done) AS findings_done
    FROM per_unit
    GROUP BY ALL
    UNION ALL
    -- The whole store: the units from the days units entered each category (lists.sql:
    -- category_entries), the findings summed per category only.
    SELECT c.category_l1, c.category_l2, c.findings, e.units, c.findings_done
    FROM (
        SELECT category_l1, category_l2, sum(findings) AS findings,
               sum(findings_done) AS findings_done
        FROM base
        WHERE $inspection_ids IS NULL
        GROUP BY ALL
    ) c
    JOIN (
        SELECT category_l1, category_l2, sum(units) AS units
        FROM category_entries
        WHERE $inspection_ids IS NULL AND first_on <= $as_of::DATE
          AND in_categories(category_l1, category_l2, $category_l1, $category_l2)
        GROUP BY ALL
    ) e ON e.category_l1 = c.category_l1 AND e.category_l2 IS NOT DISTINCT FROM c.category_l2
)
SELECT b.category_l1, c1.name AS l1_name, coalesce(b.category_l2, 'Z99') AS category_l2,
       coalesce(c2.name, '其他') AS l2_name,
       sum(b.findings)::BIGINT AS findings, sum(b.units)::BIGINT AS units,
       sum(b.findings_done)::BIGINT AS findings_done
FROM by_category b
JOIN category_l1 c1 ON c1.code = b.category_l1
LEFT JOIN category_l2 c2 ON c2.code = b.category_l2
GROUP BY ALL
ORDER BY category_l2
