-- name: rectification_counts_whole
-- returns: the same counts as rectification_counts_current for every inspection without a category (the usual state), read from the groups summed at write time (rect_current_groups, rect_current_group_dates); xuncha.figures chooses it when the scope is the whole store, no category is chosen, the date is on or after settled_on and the grouping is one of all, round, unit, round_unit, sector, peer_group
-- grain: one row per group_id
-- params:
--   $as_of DATE  the date the figures are asked as of (on or after settled_on)
--   $by VARCHAR  grouping: all, round, unit, round_unit, sector, peer_group
--   $cycle_median BOOLEAN  give cycle_days_median (false: it is NULL, as in rectification_counts_current; here it is computed at write time and costs nothing)
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
SELECT g.group_key, g.group_id, g.group_order, g.units, g.inspections, g.findings,
       g.findings_done, g.findings_basically_done, g.findings_open,
       coalesce(d.overdue_findings, 0)::BIGINT AS overdue_findings,
       g.repeat_findings, g.rebound_findings,
       CASE WHEN $cycle_median THEN g.cycle_days_median END AS cycle_days_median,
       g.measures, g.measures_done, g.measures_phased, g.measures_in_progress,
       g.measures_not_done, g.measures_long_term,
       coalesce(d.overdue_measures, 0)::BIGINT AS overdue_measures,
       coalesce(d.measures_not_due, 0)::BIGINT AS measures_not_due,
       g.completed_with_deadline, g.on_time_original,
       g.completed_with_current_deadline, g.on_time_current
FROM rect_current_groups g
LEFT JOIN (
    SELECT group_id,
           sum(open_measures) FILTER (WHERE d < $as_of::DATE) AS overdue_measures,
           sum(open_measures) FILTER (WHERE d >= $as_of::DATE) AS measures_not_due,
           sum(findings_earliest) FILTER (WHERE d < $as_of::DATE) AS overdue_findings
    FROM rect_current_group_dates
    WHERE grouping = $by
    GROUP BY group_id
) d USING (group_id)
WHERE g.grouping = $by
ORDER BY g.group_order NULLS LAST, g.findings DESC, g.group_key
