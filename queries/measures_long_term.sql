-- name: measures_long_term
-- returns: long-term (长期坚持) measures not yet DONE as of a date: those without a dated deadline or whose status is LONG_TERM; listed apart from overdue, latest round first
-- grain: one row per measure_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $limit INTEGER  how many rows at most (NULL: all)
--   $current BOOLEAN  as_of is on or after the store's settled_on: read the measures from the current-state summary rect_current_measures instead of the timeline
-- columns:
--   measure_id INTEGER  measure
--   finding_id INTEGER  its finding
--   round_name VARCHAR  round
--   unit_name VARCHAR  unit
--   unit_id INTEGER  unit (for the link to its page)
--   category_l2 VARCHAR  level-2 category
--   title VARCHAR  具体问题
--   text VARCHAR  整改措施
--   deadline_text VARCHAR  时限原文
--   deadline DATE  dated deadline if any
--   status VARCHAR  status as of the date
--   lead_person VARCHAR  责任领导
--   department VARCHAR  责任部门
--   total BIGINT  rows of the whole list (before the limit)
WITH hits AS (
    -- Narrow rows first (with the sort keys); the texts are read only for the rows returned.
    SELECT t.measure_id, t.finding_id, t.category_l2, t.deadline, t.status,
           r.name AS round_name, r.seq, u.short_name AS unit_name, t.unit_id
    FROM listed_measures_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) t
    JOIN units u ON u.unit_id = t.unit_id
    JOIN rounds r ON r.round_id = t.round_id
    WHERE is_long_term(t.status, t.deadline)
),
sel AS (
    SELECT * FROM hits
    ORDER BY seq DESC, unit_name, measure_id
    LIMIT $limit
)
SELECT s.measure_id, s.finding_id, s.round_name, s.unit_name, s.unit_id, s.category_l2, f.title,
       m.text,
       m.deadline_text, s.deadline, s.status, m.lead_person, m.department,
       (SELECT count(*) FROM hits) AS total
FROM sel s
JOIN measures m ON m.measure_id = s.measure_id
JOIN findings f ON f.finding_id = s.finding_id
ORDER BY s.seq DESC, s.unit_name, s.measure_id
