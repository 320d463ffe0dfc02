-- name: unit_overdue_measures
-- returns: 某单位逾期措施: the overdue measures of one unit (or of every unit) as of a date, most overdue first: not DONE and the current deadline before the date, exactly the measures counted in rectification_counts' overdue_measures (long-term measures without a dated deadline are never overdue)
-- grain: one row per measure_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked (统计截至)
--   $current BOOLEAN  as_of is on or after the store's settled_on: every inspection settled, the timeline is not read
--   $unit_id INTEGER  the unit (NULL: every unit)
-- columns:
--   measure_id INTEGER  measure
--   unit_name VARCHAR  unit (short name)
--   round_name VARCHAR  round
--   category_l2 VARCHAR  level-2 category
--   title VARCHAR  具体问题
--   text VARCHAR  整改措施
--   status VARCHAR  status as of the date
--   deadline DATE  current deadline as of the date
--   deadline_original DATE  original deadline
--   days_overdue INTEGER  days past the current deadline on the date
--   lead_person VARCHAR  责任领导
--   department VARCHAR  责任部门
WITH overdue AS (
    -- The measures as they stood on the date, overdue by the one definition: open, so among
    -- the measures the lists may show (listed_measures_at: the summary of the inspections
    -- settled by the date, the timeline of those still changing on it).
    SELECT t.measure_id, t.finding_id, t.round_id, t.unit_id, t.category_l2, t.status,
           t.deadline, t.deadline_original,
           ($as_of::DATE - t.deadline)::INTEGER AS days_overdue
    FROM listed_measures_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) t
    WHERE is_overdue(t.status, t.deadline, $as_of)
      AND ($unit_id::INTEGER IS NULL OR t.unit_id = $unit_id::INTEGER)
)
SELECT o.measure_id, u.short_name AS unit_name, r.name AS round_name, o.category_l2,
       f.title, m.text, o.status, o.deadline, o.deadline_original, o.days_overdue,
       m.lead_person, m.department
FROM overdue o
JOIN measures m ON m.measure_id = o.measure_id
JOIN findings f ON f.finding_id = o.finding_id
JOIN units u ON u.unit_id = o.unit_id
JOIN rounds r ON r.round_id = o.round_id
ORDER BY o.days_overdue DESC, u.short_name, o.measure_id
