-- rect_current without the categories: the usual filter state (no category chosen) reads one
-- row per inspection instead of one per inspection and category. Built from rect_current, in
-- the store and in each SQL sandbox from its scoped copy.
CREATE OR REPLACE TABLE rect_current_inspection AS
SELECT inspection_id,
       sum(findings)::BIGINT AS findings,
       sum(findings_done)::BIGINT AS findings_done,
       sum(findings_basically_done)::BIGINT AS findings_basically_done,
       sum(findings_open)::BIGINT AS findings_open,
       sum(repeat_findings)::BIGINT AS repeat_findings,
       sum(rebound_findings)::BIGINT AS rebound_findings,
       sum(focus_findings)::BIGINT AS focus_findings,
       sum(four_winds_findings)::BIGINT AS four_winds_findings,
       sum(personnel_findings)::BIGINT AS personnel_findings,
       sum(measures)::BIGINT AS measures,
       sum(measures_done)::BIGINT AS measures_done,
       sum(measures_phased)::BIGINT AS measures_phased,
       sum(measures_in_progress)::BIGINT AS measures_in_progress,
       sum(measures_not_done)::BIGINT AS measures_not_done,
       sum(measures_long_term)::BIGINT AS measures_long_term,
       sum(completed_with_deadline)::BIGINT AS completed_with_deadline,
       sum(on_time_original)::BIGINT AS on_time_original,
       sum(completed_with_current_deadline)::BIGINT AS completed_with_current_deadline,
       sum(on_time_current)::BIGINT AS on_time_current,
       max(last_deadline_original) AS last_deadline_original,
       any_value(settled_on) AS settled_on
FROM rect_current
GROUP BY inspection_id
ORDER BY inspection_id;
