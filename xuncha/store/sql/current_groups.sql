-- The usual state (every inspection, no category) per grouping, summed once per write: the
-- roll-up of the whole store by all, round, unit, round × unit, sector or peer group reads one
-- row per group (rectification_counts_whole) instead of summing every inspection. The counts
-- that depend on the date (overdue, not yet due) come from rect_current_group_dates, by
-- deadline. Built in the store, and in each SQL sandbox from its scoped copies, so a scoped
-- sandbox never holds a figure of rows outside its scope.
CREATE OR REPLACE TABLE rect_current_groups AS
WITH k AS (
    SELECT i.inspection_id, i.unit_id, g.grouping,
        group_key_of(g.grouping, r.name, u.short_name, NULL, NULL, u.sector, u.peer_group)
            AS group_key,
        group_id_of(g.grouping, i.round_id, i.unit_id, NULL, NULL, u.sector, u.peer_group)
            AS group_id,
        group_order_of(g.grouping, r.seq) AS group_order
    FROM inspections i
    JOIN units u ON u.unit_id = i.unit_id
    JOIN rounds r ON r.round_id = i.round_id
    CROSS JOIN (VALUES ('all'), ('round'), ('unit'), ('round_unit'), ('sector'), ('peer_group'))
        g(grouping)
),
med AS (
    SELECT k.grouping, k.group_id, median(x.days)::DOUBLE AS cycle_days_median
    FROM rect_current_done x
    JOIN k USING (inspection_id)
    GROUP BY ALL
)
SELECT k.grouping, k.group_id, any_value(k.group_key) AS group_key,
       any_value(k.group_order)::BIGINT AS group_order,
       count(DISTINCT k.unit_id) AS units,
       count(DISTINCT k.inspection_id) AS inspections,
       sum(c.findings)::BIGINT AS findings,
       sum(c.findings_done)::BIGINT AS findings_done,
       sum(c.findings_basically_done)::BIGINT AS findings_basically_done,
       sum(c.findings_open)::BIGINT AS findings_open,
       sum(c.repeat_findings)::BIGINT AS repeat_findings,
       sum(c.rebound_findings)::BIGINT AS rebound_findings,
       sum(c.measures)::BIGINT AS measures,
       sum(c.measures_done)::BIGINT AS measures_done,
       sum(c.measures_phased)::BIGINT AS measures_phased,
       sum(c.measures_in_progress)::BIGINT AS measures_in_progress,
       sum(c.measures_not_done)::BIGINT AS measures_not_done,
       sum(c.measures_long_term)::BIGINT AS measures_long_term,
       sum(c.completed_with_deadline)::BIGINT AS completed_with_deadline,
       sum(c.on_time_original)::BIGINT AS on_time_original,
       sum(c.completed_with_current_deadline)::BIGINT AS completed_with_current_deadline,
       sum(c.on_time_current)::BIGINT AS on_time_current,
       any_value(m.cycle_days_median) AS cycle_days_median
FROM rect_current_inspection c
JOIN k USING (inspection_id)
LEFT JOIN med m ON m.grouping = k.grouping AND m.group_id = k.group_id
GROUP BY k.grouping, k.group_id
ORDER BY k.grouping, k.group_id;

CREATE OR REPLACE TABLE rect_current_group_dates AS
WITH k AS (
    SELECT i.inspection_id, g.grouping,
        group_id_of(g.grouping, i.round_id, i.unit_id, NULL, NULL, u.sector, u.peer_group)
            AS group_id
    FROM inspections i
    JOIN units u ON u.unit_id = i.unit_id
    CROSS JOIN (VALUES ('all'), ('round'), ('unit'), ('round_unit'), ('sector'), ('peer_group'))
        g(grouping)
)
SELECT k.grouping, k.group_id, d.d,
       sum(d.open_measures)::BIGINT AS open_measures,
       sum(d.findings_earliest)::BIGINT AS findings_earliest
FROM rect_current_dates d
JOIN k USING (inspection_id)
GROUP BY ALL
ORDER BY k.grouping, k.group_id, d.d;
