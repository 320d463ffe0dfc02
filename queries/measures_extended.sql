-- name: measures_extended
-- returns: measures whose deadline had moved by a date (申请延期 and other changes): original vs the deadline in force, when it changed, and the status; the largest extensions first
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
--   title VARCHAR  具体问题
--   text VARCHAR  整改措施
--   deadline_original DATE  original deadline
--   deadline DATE  deadline in force on the date
--   extension_days INTEGER  days added
--   changed_on DATE  when the deadline in force was recorded
--   reason VARCHAR  reason recorded
--   status VARCHAR  status as of the date
--   total BIGINT  rows of the whole list (before the limit)
WITH hits AS (
    -- Narrow rows first: the texts and the deadline records are read only for the rows
    -- returned.
    SELECT t.measure_id, t.finding_id, t.round_id, t.unit_id, t.status, t.deadline,
           t.deadline_original, (t.deadline - t.deadline_original)::INTEGER AS extension_days
    FROM listed_measures_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) t
    WHERE t.deadline IS DISTINCT FROM t.deadline_original
),
sel AS (
    SELECT * FROM hits
    ORDER BY extension_days DESC NULLS LAST, measure_id
    LIMIT $limit
),
changes AS (
    -- The record in force: the latest effective date on or before the date (ties: the
    -- later-recorded), as measure_timeline decides the deadline itself.
    SELECT h.measure_id, h.effective_date AS changed_on, h.reason
    FROM measure_deadline_history h
    WHERE h.measure_id IN (SELECT measure_id FROM sel)
      AND h.effective_date <= $as_of::DATE
    QUALIFY row_number() OVER (PARTITION BY h.measure_id
                               ORDER BY h.effective_date DESC, h.history_id DESC) = 1
)
SELECT s.measure_id, s.finding_id, r.name AS round_name, u.short_name AS unit_name, s.unit_id,
       f.title,
       m.text, s.deadline_original, s.deadline, s.extension_days, c.changed_on, c.reason,
       s.status, (SELECT count(*) FROM hits) AS total
FROM sel s
JOIN measures m ON m.measure_id = s.measure_id
JOIN findings f ON f.finding_id = s.finding_id
JOIN units u ON u.unit_id = s.unit_id
JOIN rounds r ON r.round_id = s.round_id
LEFT JOIN changes c ON c.measure_id = s.measure_id
ORDER BY s.extension_days DESC NULLS LAST, s.measure_id
