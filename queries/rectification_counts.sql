-- name: rectification_counts
-- returns: the counts behind every rectification figure of DOMAIN.md §5 (numerators and denominators), as of a date, overall or by a grouping: from the current-state summaries on or after settled_on ($current), else from the timelines
-- grain: one row per group_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date the figures are asked as of
--   $by VARCHAR  grouping: all, round, unit, round_unit (each unit in each round: group_id round_id/unit_id, group_key the unit), category_l1, category_l2, sector, peer_group
--   $cycle_median BOOLEAN  compute cycle_days_median (false: it is NULL; the median over every completed finding in scope is the costliest part, so pages that do not show it leave it out)
--   $current BOOLEAN  as_of is on or after the store's settled_on: read the current-state summaries (rect_current or rect_current_inspection, rect_current_dates, rect_current_done) instead of the timelines
-- columns:
--   group_key VARCHAR  value of the grouping (round name, unit short name, code …; 全部 for all)
--   group_id VARCHAR  stable id of the group (round_id, unit_id, code …)
--   group_order BIGINT  display order (round seq; else NULL)
--   units BIGINT  units with findings in scope
--   inspections BIGINT  inspections with findings in scope
--   findings BIGINT  findings in scope (反馈 on or before as_of)
--   findings_done BIGINT  findings whose every measure is DONE
--   findings_basically_done BIGINT  findings whose measures are all DONE, PHASED or LONG_TERM, not all DONE
--   findings_open BIGINT  the other findings
--   overdue_findings BIGINT  findings with at least one overdue measure
--   repeat_findings BIGINT  findings whose L2 category was found at the same unit in an earlier round
--   rebound_findings BIGINT  repeats whose earlier finding was DONE by this finding's 反馈日期
--   cycle_days_median DOUBLE  median days from 反馈日期 to completion of DONE findings (NULL unless $cycle_median)
--   measures BIGINT  measures in scope
--   measures_done BIGINT  measures DONE
--   measures_phased BIGINT  measures PHASED
--   measures_in_progress BIGINT  measures IN_PROGRESS
--   measures_not_done BIGINT  measures NOT_DONE
--   measures_long_term BIGINT  long-term measures, counted apart from overdue: not DONE, with no dated deadline or with status LONG_TERM
--   overdue_measures BIGINT  measures not DONE whose current deadline is before as_of
--   measures_not_due BIGINT  measures not DONE whose current deadline is on or after as_of (still within their time)
--   completed_with_deadline BIGINT  DONE measures that had an original deadline
--   on_time_original BIGINT  of those, completed on or before the original deadline
--   completed_with_current_deadline BIGINT  DONE measures that had a deadline when completed
--   on_time_current BIGINT  of those, completed on or before the deadline then in force
-- Two branches answer the same counts; DuckDB drops the one whose $current test is false.
WITH
-- Before settled_on (or whenever asked): the timelines, one row per finding / measure.
f AS (
    SELECT t.*, u.short_name AS unit_name, u.sector, u.peer_group, r.name AS round_name, r.seq
    FROM finding_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    JOIN units u ON u.unit_id = t.unit_id
    JOIN rounds r ON r.round_id = t.round_id
    WHERE NOT $current
),
m AS (
    SELECT t.*, u.short_name AS unit_name, u.sector, u.peer_group, r.name AS round_name
    FROM measure_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    JOIN units u ON u.unit_id = t.unit_id
    JOIN rounds r ON r.round_id = t.round_id
    WHERE NOT $current
),
fa AS (
    -- Grouped by the stable id: two units may share a short name.
    SELECT group_id_of($by, round_id, unit_id, category_l1, category_l2, sector, peer_group)
               AS group_id,
           any_value(group_key_of($by, round_name, unit_name, category_l1, category_l2, sector,
                                  peer_group)) AS group_key,
           any_value(group_order_of($by, seq)) AS group_order,
           count(DISTINCT unit_id) AS units,
           count(DISTINCT inspection_id) AS inspections,
           count(*) AS findings,
           count(*) FILTER (WHERE status = 'DONE') AS findings_done,
           count(*) FILTER (WHERE status = 'BASICALLY_DONE') AS findings_basically_done,
           count(*) FILTER (WHERE status = 'OPEN') AS findings_open,
           count(*) FILTER (WHERE earliest_open_deadline < $as_of::DATE) AS overdue_findings,
           count(*) FILTER (WHERE is_repeat) AS repeat_findings,
           count(*) FILTER (WHERE is_rebound) AS rebound_findings,
           median(done_on - feedback_date) FILTER (WHERE status = 'DONE' AND $cycle_median)::DOUBLE
               AS cycle_days_median
    FROM f GROUP BY 1
),
ma AS (
    SELECT group_id_of($by, round_id, unit_id, category_l1, category_l2, sector, peer_group)
               AS group_id,
           count(*) AS measures,
           count(*) FILTER (WHERE status = 'DONE') AS measures_done,
           count(*) FILTER (WHERE status = 'PHASED') AS measures_phased,
           count(*) FILTER (WHERE status = 'IN_PROGRESS') AS measures_in_progress,
           count(*) FILTER (WHERE status = 'NOT_DONE') AS measures_not_done,
           count(*) FILTER (WHERE is_long_term(status, deadline)) AS measures_long_term,
           count(*) FILTER (WHERE is_overdue(status, deadline, $as_of)) AS overdue_measures,
           count(*) FILTER (WHERE status <> 'DONE' AND deadline >= $as_of::DATE) AS measures_not_due,
           count(*) FILTER (WHERE status = 'DONE' AND on_time_original IS NOT NULL)
               AS completed_with_deadline,
           count(*) FILTER (WHERE on_time_original) AS on_time_original,
           count(*) FILTER (WHERE status = 'DONE' AND on_time_current IS NOT NULL)
               AS completed_with_current_deadline,
           count(*) FILTER (WHERE on_time_current) AS on_time_current
    FROM m GROUP BY 1
),
timeline_counts AS (
    SELECT fa.group_key, fa.group_id, fa.group_order::BIGINT AS group_order,
           fa.units, fa.inspections, fa.findings, fa.findings_done, fa.findings_basically_done,
           fa.findings_open, fa.overdue_findings, fa.repeat_findings, fa.rebound_findings,
           fa.cycle_days_median,
           coalesce(ma.measures, 0) AS measures,
           coalesce(ma.measures_done, 0) AS measures_done,
           coalesce(ma.measures_phased, 0) AS measures_phased,
           coalesce(ma.measures_in_progress, 0) AS measures_in_progress,
           coalesce(ma.measures_not_done, 0) AS measures_not_done,
           coalesce(ma.measures_long_term, 0) AS measures_long_term,
           coalesce(ma.overdue_measures, 0) AS overdue_measures,
           coalesce(ma.measures_not_due, 0) AS measures_not_due,
           coalesce(ma.completed_with_deadline, 0) AS completed_with_deadline,
           coalesce(ma.on_time_original, 0) AS on_time_original,
           coalesce(ma.completed_with_current_deadline, 0) AS completed_with_current_deadline,
           coalesce(ma.on_time_current, 0) AS on_time_current
    FROM fa
    LEFT JOIN ma USING (group_id)
),
-- On or after settled_on: the current-state summaries, a row per inspection (and category).
k AS (
    -- The inspections in scope with their group (small: one row each); a category grouping
    -- takes its group from each summary row instead.
    SELECT i.inspection_id, i.unit_id,
           group_key_of($by, r.name, u.short_name, NULL, NULL, u.sector, u.peer_group) AS k_key,
           group_id_of($by, i.round_id, i.unit_id, NULL, NULL, u.sector, u.peer_group) AS k_id,
           group_order_of($by, r.seq) AS group_order
    FROM inspections i
    JOIN units u ON u.unit_id = i.unit_id
    JOIN rounds r ON r.round_id = i.round_id
    WHERE $current AND in_inspections(i.inspection_id, $inspection_ids)
),
src AS (
    -- No category chosen nor grouped by: one row per inspection (rect_current_inspection);
    -- else one per inspection and category. DuckDB drops the branch whose test is false.
    SELECT inspection_id, NULL::VARCHAR AS category_l1, NULL::VARCHAR AS category_l2,
           findings, findings_done, findings_basically_done, findings_open,
           repeat_findings, rebound_findings, measures, measures_done, measures_phased,
           measures_in_progress, measures_not_done, measures_long_term,
           completed_with_deadline, on_time_original, completed_with_current_deadline,
           on_time_current
    FROM rect_current_inspection
    WHERE $current
      AND $category_l1::VARCHAR[] IS NULL AND $category_l2::VARCHAR[] IS NULL
      AND $by NOT IN ('category_l1', 'category_l2')
    UNION ALL
    SELECT inspection_id, category_l1, category_l2,
           findings, findings_done, findings_basically_done, findings_open,
           repeat_findings, rebound_findings, measures, measures_done, measures_phased,
           measures_in_progress, measures_not_done, measures_long_term,
           completed_with_deadline, on_time_original, completed_with_current_deadline,
           on_time_current
    FROM rect_current
    WHERE $current
      AND NOT ($category_l1::VARCHAR[] IS NULL AND $category_l2::VARCHAR[] IS NULL
               AND $by NOT IN ('category_l1', 'category_l2'))
      AND in_categories(category_l1, category_l2, $category_l1, $category_l2)
),
c AS (
    SELECT c.*, k.unit_id, k.group_order,
           CASE WHEN $by IN ('category_l1', 'category_l2')
                THEN group_key_of($by, NULL, NULL, c.category_l1, c.category_l2, NULL, NULL)
                ELSE k.k_key END AS group_key,
           CASE WHEN $by IN ('category_l1', 'category_l2')
                THEN group_id_of($by, NULL, NULL, c.category_l1, c.category_l2, NULL, NULL)
                ELSE k.k_id END AS group_id
    FROM src c
    JOIN k USING (inspection_id)
),
dated AS (
    SELECT CASE WHEN $by IN ('category_l1', 'category_l2')
                THEN group_id_of($by, NULL, NULL, d.category_l1, d.category_l2, NULL, NULL)
                ELSE k.k_id END AS group_id,
           sum(d.open_measures) FILTER (WHERE d.d < $as_of::DATE) AS overdue_measures,
           sum(d.open_measures) FILTER (WHERE d.d >= $as_of::DATE) AS measures_not_due,
           sum(d.findings_earliest) FILTER (WHERE d.d < $as_of::DATE) AS overdue_findings
    FROM rect_current_dates d
    JOIN k USING (inspection_id)
    WHERE $current AND in_categories(d.category_l1, d.category_l2, $category_l1, $category_l2)
    GROUP BY 1
),
med AS (
    SELECT CASE WHEN $by IN ('category_l1', 'category_l2')
                THEN group_id_of($by, NULL, NULL, x.category_l1, x.category_l2, NULL, NULL)
                ELSE k.k_id END AS group_id,
           median(x.days)::DOUBLE AS cycle_days_median
    FROM rect_current_done x
    JOIN k USING (inspection_id)
    WHERE $current AND $cycle_median
      AND in_categories(x.category_l1, x.category_l2, $category_l1, $category_l2)
    GROUP BY 1
),
agg AS (
    -- Grouped by the stable id: two units may share a short name.
    SELECT group_id, any_value(group_key) AS group_key, any_value(group_order) AS group_order,
           count(DISTINCT unit_id) AS units,
           count(DISTINCT inspection_id) AS inspections,
           sum(findings)::BIGINT AS findings,
           sum(findings_done)::BIGINT AS findings_done,
           sum(findings_basically_done)::BIGINT AS findings_basically_done,
           sum(findings_open)::BIGINT AS findings_open,
           sum(repeat_findings)::BIGINT AS repeat_findings,
           sum(rebound_findings)::BIGINT AS rebound_findings,
           sum(measures)::BIGINT AS measures,
           sum(measures_done)::BIGINT AS measures_done,
           sum(measures_phased)::BIGINT AS measures_phased,
           sum(measures_in_progress)::BIGINT AS measures_in_progress,
           sum(measures_not_done)::BIGINT AS measures_not_done,
           sum(measures_long_term)::BIGINT AS measures_long_term,
           sum(completed_with_deadline)::BIGINT AS completed_with_deadline,
           sum(on_time_original)::BIGINT AS on_time_original,
           sum(completed_with_current_deadline)::BIGINT AS completed_with_current_deadline,
           sum(on_time_current)::BIGINT AS on_time_current
    FROM c GROUP BY group_id
),
current_counts AS (
    SELECT a.group_key, a.group_id, a.group_order::BIGINT AS group_order,
           a.units, a.inspections, a.findings, a.findings_done, a.findings_basically_done,
           a.findings_open,
           coalesce(d.overdue_findings, 0)::BIGINT AS overdue_findings,
           a.repeat_findings, a.rebound_findings,
           m.cycle_days_median,
           a.measures, a.measures_done, a.measures_phased, a.measures_in_progress,
           a.measures_not_done, a.measures_long_term,
           coalesce(d.overdue_measures, 0)::BIGINT AS overdue_measures,
           coalesce(d.measures_not_due, 0)::BIGINT AS measures_not_due,
           a.completed_with_deadline, a.on_time_original,
           a.completed_with_current_deadline, a.on_time_current
    FROM agg a
    LEFT JOIN dated d USING (group_id)
    LEFT JOIN med m USING (group_id)
),
both_branches AS (
    SELECT * FROM timeline_counts
    UNION ALL
    SELECT * FROM current_counts
)
SELECT * FROM both_branches
ORDER BY group_order NULLS LAST, findings DESC, group_key
