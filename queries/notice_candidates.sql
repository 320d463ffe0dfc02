-- name: notice_candidates
-- returns: the measures that may be due a 绿/黄/红 notice on a date (DOMAIN.md §8): open on the date (status neither DONE nor LONG_TERM) with a dated current deadline, with their unit, the people responsible and the colours of the notices already issued for them at that deadline
-- grain: one row per measure_id
-- params:
--   $as_of DATE  the date of the daily run
--   $current BOOLEAN  as_of is on or after the store's settled_on: read the measures from the current-state summary rect_current_measures instead of the timeline
-- columns:
--   measure_id INTEGER  measure
--   finding_id INTEGER  its finding
--   unit_id INTEGER  its unit
--   status VARCHAR  status as of the date
--   deadline DATE  current deadline as of the date
--   deadline_original DATE  original deadline
--   days_to_deadline INTEGER  calendar days from the date to the current deadline (negative: overdue)
--   person VARCHAR  责任人 as the ledger wrote it (several names possible)
--   lead_person VARCHAR  责任领导 as the ledger wrote it (several names possible)
--   issued_colours VARCHAR[]  colours of the notices issued for the measure at this same deadline, on any date (an extension's new deadline starts again from none)
-- The colour itself is computed in xuncha.rectify.notices: in working days it needs the calendar.
WITH open_dated AS (
    SELECT t.measure_id, t.finding_id, t.unit_id, t.status, t.deadline, t.deadline_original
    FROM listed_measures_at($as_of, $current, NULL, NULL, NULL) t
    WHERE t.status <> 'DONE' AND NOT is_long_term(t.status, t.deadline)
),
issued AS (
    SELECT measure_id, deadline, list(DISTINCT colour ORDER BY colour) AS colours
    FROM notice_items
    GROUP BY ALL
)
SELECT o.measure_id, o.finding_id, o.unit_id, o.status, o.deadline, o.deadline_original,
       (o.deadline - $as_of::DATE)::INTEGER AS days_to_deadline, m.person, m.lead_person,
       coalesce(i.colours, []::VARCHAR[]) AS issued_colours
FROM open_dated o
JOIN measures m ON m.measure_id = o.measure_id
LEFT JOIN issued i ON i.measure_id = o.measure_id AND i.deadline = o.deadline
ORDER BY o.unit_id, o.measure_id
