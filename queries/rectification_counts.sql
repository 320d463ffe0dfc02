-- name: rectification_counts
-- returns: the counts behind every rectification figure of DOMAIN.md §5 (numerators and denominators), as of a date, overall or by a grouping
-- grain: one row per group_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date the figures are asked as of
--   $by VARCHAR  grouping: all, round, unit, round_unit (each unit in each round: group_id round_id/unit_id, group_key the unit), category_l1, category_l2, sector, peer_group
--   $cycle_median BOOLEAN  compute cycle_days_median (false: it is NULL; the median over every completed finding in scope is the costliest part, so pages that do not show it leave it out)
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
-- The timelines, one row per finding / measure as of the date (any date; on or after
-- settled_on rectification_counts_current reads the summaries instead, for the same rows).
WITH
f AS (
    SELECT t.*, u.short_name AS unit_name, u.sector, u.peer_group, r.name AS round_name, r.seq
    FROM finding_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    JOIN units u ON u.unit_id = t.unit_id
    JOIN rounds r ON r.round_id = t.round_id
),
m AS (
    SELECT t.*, u.short_name AS unit_name, u.sector, u.peer_group, r.name AS round_name
    FROM measure_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    JOIN units u ON u.unit_id = t.unit_id
    JOIN rounds r ON r.round_id = t.round_id
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
           unnest(measure_tallies(status, deadline, on_time_original, on_time_current)),
           count(*) FILTER (WHERE is_overdue(status, deadline, $as_of)) AS overdue_measures,
           count(*) FILTER (WHERE status <> 'DONE' AND deadline >= $as_of::DATE) AS measures_not_due
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
)
SELECT * FROM timeline_counts
ORDER BY group_order NULLS LAST, findings DESC, group_key
