-- name: measures_supervision
-- returns: the 督办清单: open measures with a dated deadline, most overdue first, with days overdue or left and the warning colour, optionally only some colours
-- grain: one row per measure_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date of the list
--   $kinds VARCHAR[]  warning colours listed: 红, 黄, 绿 and '' for none (NULL: every measure)
--   $limit INTEGER  how many rows at most (NULL: all)
--   $current BOOLEAN  as_of is on or after the store's settled_on: read the measures from the current-state summary rect_current_measures instead of the timeline
-- columns:
--   measure_id INTEGER  measure
--   finding_id INTEGER  its finding
--   round_name VARCHAR  round
--   unit_name VARCHAR  unit (short name)
--   unit_id INTEGER  unit (for the link to its page)
--   category_l2 VARCHAR  level-2 category
--   title VARCHAR  具体问题
--   text VARCHAR  整改措施
--   status VARCHAR  status as of the date
--   deadline DATE  current deadline as of the date
--   deadline_original DATE  original deadline
--   days_overdue INTEGER  days past the deadline (negative: days left)
--   warning VARCHAR  红 overdue, 黄 ≤ 10 days left, 绿 ≤ 20 days left, else empty
--   lead_person VARCHAR  责任领导
--   department VARCHAR  责任部门
-- measures_supervision_counts counts the rows of each colour.
WITH dated AS (
    SELECT t.measure_id, t.finding_id, t.round_id, t.unit_id, t.category_l2, t.status,
           t.deadline, t.deadline_original,
           ($as_of::DATE - t.deadline)::INTEGER AS days_overdue,
           warning_colour(t.deadline, $as_of) AS warning
    FROM listed_measures_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) t
    WHERE t.status <> 'DONE' AND t.deadline IS NOT NULL
      AND warning_in(t.deadline, $as_of, $kinds)
),
sel AS (
    -- Narrow rows first; the text columns are read only for the rows returned.
    SELECT * FROM dated
    ORDER BY days_overdue DESC, measure_id
    LIMIT $limit
)
SELECT s.measure_id, s.finding_id, r.name AS round_name, u.short_name AS unit_name, s.unit_id,
       s.category_l2, f.title, m.text, s.status, s.deadline, s.deadline_original,
       s.days_overdue, s.warning, m.lead_person, m.department
FROM sel s
JOIN measures m ON m.measure_id = s.measure_id
JOIN findings f ON f.finding_id = s.finding_id
JOIN units u ON u.unit_id = s.unit_id
JOIN rounds r ON r.round_id = s.round_id
ORDER BY s.days_overdue DESC, s.measure_id
