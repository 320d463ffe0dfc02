-- name: findings_detail
-- returns: the findings behind a figure (drill-down), optionally narrowed to one unit and one category, with status as of a date
-- grain: one row per finding_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
--   $unit_id INTEGER  only this unit (NULL: all)
--   $category VARCHAR  only this level-1 or level-2 code (NULL: all)
--   $limit INTEGER  how many rows at most
-- columns:
--   finding_id INTEGER  finding
--   round_name VARCHAR  round
--   unit_name VARCHAR  unit short name
--   unit_id INTEGER  unit (for the link to its page)
--   category_l1 VARCHAR  level-1 code
--   category_l2 VARCHAR  level-2 code
--   l2_name VARCHAR  level-2 name
--   title VARCHAR  具体问题
--   detail VARCHAR  具体表现
--   severity VARCHAR  severity
--   tags VARCHAR[]  tags
--   status VARCHAR  finding status as of the date (DONE / BASICALLY_DONE / OPEN)
--   measures BIGINT  measures
--   measures_done BIGINT  measures DONE
--   is_repeat BOOLEAN  repeat finding
--   is_rebound BOOLEAN  rebound (反弹)
--   feedback_date DATE  反馈日期
--   total BIGINT  rows matching before the limit
-- The per-inspection counts of lists.sql (finding_cells_at: the summaries of the inspections
-- settled by the date, the timeline of those still active) give the total and which (round,
-- unit) groups hold the first $limit rows, so only their findings are read from the timeline,
-- on any date.
WITH scoped AS (
    SELECT i.inspection_id, i.unit_id, r.seq
    FROM inspections i
    JOIN rounds r ON r.round_id = i.round_id
    WHERE in_inspections(i.inspection_id, $inspection_ids)
      AND ($unit_id::INTEGER IS NULL OR i.unit_id = $unit_id)
),
per_inspection AS (
    -- Findings per inspection on the date (one integer key: cheap to group).
    SELECT c.inspection_id, sum(c.findings) AS n
    FROM finding_cells_at($as_of, $current, NULL, $category_l1, $category_l2) c
    WHERE ($category::VARCHAR IS NULL OR c.category_l1 = $category OR c.category_l2 = $category)
    GROUP BY c.inspection_id
),
groups AS (
    -- Findings per (round, unit) in scope: the listing's order is round, unit, finding. A unit
    -- is inspected once in a round (inspections: UNIQUE (round_id, unit_id)), so a group is
    -- one inspection.
    SELECT s.seq, s.unit_id, [s.inspection_id] AS inspection_ids, p.n
    FROM per_inspection p
    JOIN scoped s USING (inspection_id)
),
firsts AS (
    -- The groups whose findings fill the first $limit rows (at most $limit groups).
    SELECT unnest(inspection_ids) AS inspection_id
    FROM (
        SELECT inspection_ids,
               sum(n) OVER (ORDER BY seq DESC, unit_id ROWS UNBOUNDED PRECEDING) - n AS before
        FROM (SELECT * FROM groups ORDER BY seq DESC, unit_id LIMIT $limit)
    )
    WHERE $limit::INTEGER IS NULL OR before < $limit  -- NULL: no limit, as LIMIT NULL
),
sel AS (
    SELECT t.finding_id, t.round_id, t.unit_id, t.category_l1, t.category_l2, t.status,
           t.measures, t.measures_done, t.is_repeat, t.is_rebound, t.feedback_date, r.seq,
           (SELECT sum(n) FROM groups)::BIGINT AS total
    FROM finding_at($as_of, NULL, $category_l1, $category_l2) t
    JOIN rounds r ON r.round_id = t.round_id
    WHERE t.inspection_id IN (SELECT inspection_id FROM firsts)
      AND ($category::VARCHAR IS NULL OR t.category_l1 = $category OR t.category_l2 = $category)
    ORDER BY r.seq DESC, t.unit_id, t.finding_id
    LIMIT $limit
)
SELECT s.finding_id, r.name AS round_name, u.short_name AS unit_name, s.unit_id, s.category_l1,
       s.category_l2, c2.name AS l2_name, f.title, f.detail, f.severity, f.tags, s.status,
       s.measures, s.measures_done, s.is_repeat, s.is_rebound, s.feedback_date, s.total
FROM sel s
JOIN findings f ON f.finding_id = s.finding_id
JOIN units u ON u.unit_id = s.unit_id
JOIN rounds r ON r.round_id = s.round_id
LEFT JOIN category_l2 c2 ON c2.code = s.category_l2
ORDER BY s.seq DESC, s.unit_id, s.finding_id
