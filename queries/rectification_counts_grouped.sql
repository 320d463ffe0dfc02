-- name: rectification_counts_grouped
-- returns: the rows of rectification_counts_current for several groupings of one scope at once, each tagged with its grouping: one statement to plan, and the summaries and timelines read once, for the groupings a page shows (xuncha.figures.rectification.prefetch splits it into each grouping's rows)
-- grain: one row per grouping, group_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date the figures are asked as of
--   $current BOOLEAN  as_of is on or after the store's settled_on (every inspection settled: the timelines are not read)
--   $bys VARCHAR[]  the groupings, each as $by of rectification_counts_current (all, round, unit, round_unit, category_l1, category_l2, sector, peer_group)
--   $median_bys VARCHAR[]  the groupings whose cycle_days_median is computed (the others NULL, as with $cycle_median false; NULL or empty: none)
-- columns:
--   grouping VARCHAR  the grouping of the row (one of $bys)
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
--   cycle_days_median DOUBLE  median days from 反馈日期 to completion of DONE findings (NULL unless the grouping is in $median_bys)
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

-- The statement is rectification_counts_current's with the scope's inspections repeated once per
-- grouping (k) and every count taken per grouping and group: planned once, and the summaries and
-- timelines read once, for all the groupings. The two are kept apart on purpose: one table macro
-- serving both (rectification_counts_current as its one-grouping case) made every single call
-- 1.18 times slower at a million findings (sum of 16 calls' medians, 1,316 against 1,547 ms,
-- 2026-12-07), as the grouping is then a column, not a parameter. tests/test_counts_grouped.py
-- and the past-date sweep (tests/test_past_state.py) hold the two equal.
WITH k AS (
    -- The inspections in scope, once per grouping, with their group under it (small).
    SELECT g.grouping, i.inspection_id, i.unit_id, i.round_id,
        group_key_of(g.grouping, r.name, u.short_name, NULL, NULL, u.sector, u.peer_group)
            AS k_key,
        group_id_of(g.grouping, i.round_id, i.unit_id, NULL, NULL, u.sector, u.peer_group)
            AS k_id,
        group_order_of(g.grouping, r.seq) AS group_order
    FROM inspections i
    JOIN units u ON u.unit_id = i.unit_id
    JOIN rounds r ON r.round_id = i.round_id
    CROSS JOIN (SELECT DISTINCT unnest($bys::VARCHAR[]) AS grouping) g
    WHERE in_inspections(i.inspection_id, $inspection_ids)
),
ft AS (
    -- The findings of the inspections still changing on the date, as they stood on it (none
    -- when $current: DuckDB drops the scan).
    SELECT t.inspection_id, t.category_l1, t.category_l2, t.status, t.is_repeat, t.is_rebound,
           t.earliest_open_deadline, (t.done_on - t.feedback_date)::INTEGER AS days
    FROM finding_active_at($as_of, $current) t
    WHERE in_categories(t.category_l1, t.category_l2, $category_l1, $category_l2)
),
mt AS (
    -- Their measures, likewise.
    SELECT t.inspection_id, t.category_l1, t.category_l2, t.status, t.deadline,
           t.on_time_original, t.on_time_current
    FROM measure_active_at($as_of, $current) t
    WHERE in_categories(t.category_l1, t.category_l2, $category_l1, $category_l2)
),
src AS (
    -- The inspections settled by the date. No category chosen nor grouped by: one row per
    -- inspection (rect_current_inspection); else one per inspection and category. DuckDB
    -- drops the branch whose test is false.
    SELECT inspection_id, NULL::VARCHAR AS category_l1, NULL::VARCHAR AS category_l2,
           findings, findings_done, findings_basically_done, findings_open,
           repeat_findings, rebound_findings, measures, measures_done, measures_phased,
           measures_in_progress, measures_not_done, measures_long_term,
           completed_with_deadline, on_time_original, completed_with_current_deadline,
           on_time_current
    FROM rect_current_inspection
    WHERE $category_l1::VARCHAR[] IS NULL AND $category_l2::VARCHAR[] IS NULL
      AND NOT list_has_any($bys::VARCHAR[], ['category_l1', 'category_l2'])
      AND settled_by(settled_on, $as_of, $current)
    UNION ALL
    SELECT inspection_id, category_l1, category_l2,
           findings, findings_done, findings_basically_done, findings_open,
           repeat_findings, rebound_findings, measures, measures_done, measures_phased,
           measures_in_progress, measures_not_done, measures_long_term,
           completed_with_deadline, on_time_original, completed_with_current_deadline,
           on_time_current
    FROM rect_current
    WHERE NOT ($category_l1::VARCHAR[] IS NULL AND $category_l2::VARCHAR[] IS NULL
               AND NOT list_has_any($bys::VARCHAR[], ['category_l1', 'category_l2']))
      AND in_categories(category_l1, category_l2, $category_l1, $category_l2)
      AND settled_by(settled_on, $as_of, $current)
    UNION ALL
    -- The inspections still changing: one row per finding and per measure, counted as
    -- rectification_counts counts them.
    SELECT inspection_id, category_l1, category_l2,
           1, (status = 'DONE')::INTEGER, (status = 'BASICALLY_DONE')::INTEGER,
           (status = 'OPEN')::INTEGER, is_repeat::INTEGER, is_rebound::INTEGER,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM ft
    UNION ALL
    SELECT inspection_id, category_l1, category_l2, 0, 0, 0, 0, 0, 0,
           1, (status = 'DONE')::INTEGER, (status = 'PHASED')::INTEGER,
           (status = 'IN_PROGRESS')::INTEGER, (status = 'NOT_DONE')::INTEGER,
           is_long_term(status, deadline)::INTEGER,
           (status = 'DONE' AND on_time_original IS NOT NULL)::INTEGER,
           coalesce(on_time_original, false)::INTEGER,
           (status = 'DONE' AND on_time_current IS NOT NULL)::INTEGER,
           coalesce(on_time_current, false)::INTEGER
    FROM mt
),
c AS (
    SELECT c.*, k.grouping, k.unit_id, k.group_order,
        row_group(k.grouping, c.category_l1, c.category_l2, k.k_key) AS group_key,
        row_group(k.grouping, c.category_l1, c.category_l2, k.k_id) AS group_id
    FROM src c
    JOIN k USING (inspection_id)
),
dated AS (
    SELECT k.grouping, row_group(k.grouping, d.category_l1, d.category_l2, k.k_id) AS group_id,
           sum(d.open_measures) FILTER (WHERE d.d < $as_of::DATE) AS overdue_measures,
           sum(d.open_measures) FILTER (WHERE d.d >= $as_of::DATE) AS measures_not_due,
           sum(d.findings_earliest) FILTER (WHERE d.d < $as_of::DATE) AS overdue_findings
    FROM (
        SELECT inspection_id, category_l1, category_l2, d, open_measures, findings_earliest
        FROM rect_current_dates
        WHERE in_categories(category_l1, category_l2, $category_l1, $category_l2)
          AND settled_by(settled_on, $as_of, $current)
        UNION ALL
        SELECT inspection_id, category_l1, category_l2, deadline, 1, 0
        FROM mt WHERE status <> 'DONE' AND deadline IS NOT NULL
        UNION ALL
        SELECT inspection_id, category_l1, category_l2, earliest_open_deadline, 0, 1
        FROM ft WHERE earliest_open_deadline IS NOT NULL
    ) d
    JOIN k USING (inspection_id)
    GROUP BY 1, 2
),
med AS (
    SELECT k.grouping, row_group(k.grouping, x.category_l1, x.category_l2, k.k_id) AS group_id,
           median(x.days)::DOUBLE AS cycle_days_median
    FROM (
        SELECT inspection_id, category_l1, category_l2, days
        FROM rect_current_done
        WHERE in_categories(category_l1, category_l2, $category_l1, $category_l2)
          AND settled_by(settled_on, $as_of, $current)
        UNION ALL
        SELECT inspection_id, category_l1, category_l2, days
        FROM ft WHERE status = 'DONE' AND days IS NOT NULL
    ) x
    JOIN k USING (inspection_id)
    WHERE len(coalesce($median_bys::VARCHAR[], [])) > 0
      AND list_contains($median_bys::VARCHAR[], k.grouping)
    GROUP BY 1, 2
),
present AS (
    -- The units and inspections of each group, counted over one row per group and inspection:
    -- two distinct counts over every row of c cost a fifth of the query at a million findings.
    SELECT grouping, group_id, count(DISTINCT unit_id) AS units, count(*) AS inspections
    FROM (SELECT DISTINCT grouping, group_id, inspection_id, unit_id FROM c)
    GROUP BY grouping, group_id
),
agg AS (
    -- Grouped by the stable id: two units may share a short name.
    SELECT grouping, group_id, any_value(group_key) AS group_key,
           any_value(group_order) AS group_order,
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
    FROM c GROUP BY grouping, group_id
)
SELECT a.grouping, a.group_key, a.group_id, a.group_order::BIGINT AS group_order,
       p.units, p.inspections, a.findings, a.findings_done, a.findings_basically_done,
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
JOIN present p USING (grouping, group_id)
LEFT JOIN dated d USING (grouping, group_id)
LEFT JOIN med m USING (grouping, group_id)
ORDER BY a.grouping, a.group_order NULLS LAST, a.findings DESC, a.group_key
