-- name: rectification_periods
-- returns: each inspection fed back by the date of every round that has an inspection in scope (a round's period is the whole round's, whatever the filters or the account's scope), with whether it is in scope and the end of its rectification period (整改期) as xuncha.figures.periods defines it: the latest original deadline of its dated measures known by the date, kept between 反馈日期 + $min_months and 反馈日期 + $max_months
-- grain: one row per inspection_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  the date asked; measures first recorded after it are not known yet
--   $min_months INTEGER  the shortest period, in months after 反馈日期 (集中整改期)
--   $max_months INTEGER  the longest period, in months after 反馈日期
-- columns:
--   inspection_id INTEGER  inspection
--   in_scope BOOLEAN  the inspection is one of $inspection_ids
--   round_id INTEGER  its round
--   unit_id INTEGER  its unit
--   feedback_date DATE  反馈日期
--   last_deadline DATE  the latest original deadline of its dated measures known by the date (NULL: none)
--   period_end DATE  the last day of its rectification period
--   finished BOOLEAN  the period had ended by the date (period_end < as_of)
WITH rounds_in_scope AS (
    SELECT DISTINCT round_id FROM inspections
    WHERE in_inspections(inspection_id, $inspection_ids)
),
known AS (
    -- A measure is known on the date when its timeline holds the date (its intervals run
    -- on from its first record); long-term measures (长期坚持) have no original date and do
    -- not lengthen the period. An inspection settled by the date knows all its measures
    -- (rect_current_inspection); the timeline is read for those still changing on it.
    SELECT c.inspection_id, c.last_deadline_original AS last_deadline
    FROM rect_current_inspection c
    JOIN inspections i ON i.inspection_id = c.inspection_id
    WHERE i.round_id IN (SELECT round_id FROM rounds_in_scope)
      AND c.settled_on <= $as_of::DATE
    UNION ALL
    SELECT t.inspection_id, max(t.deadline_original) AS last_deadline
    FROM measure_active_at($as_of, false) t
    WHERE t.round_id IN (SELECT round_id FROM rounds_in_scope)
      AND t.deadline_original IS NOT NULL
    GROUP BY ALL
),
periods AS (
    SELECT i.inspection_id, in_inspections(i.inspection_id, $inspection_ids) AS in_scope,
           i.round_id, i.unit_id, i.feedback_date, k.last_deadline,
           least(
               greatest(coalesce(k.last_deadline, i.feedback_date),
                        (i.feedback_date + to_months($min_months::INTEGER))::DATE),
               (i.feedback_date + to_months($max_months::INTEGER))::DATE
           ) AS period_end
    FROM inspections i
    LEFT JOIN known k ON k.inspection_id = i.inspection_id
    WHERE i.round_id IN (SELECT round_id FROM rounds_in_scope)
      AND i.feedback_date <= $as_of::DATE
)
SELECT inspection_id, in_scope, round_id, unit_id, feedback_date, last_deadline, period_end,
       period_end < $as_of::DATE AS finished
FROM periods
ORDER BY inspection_id
