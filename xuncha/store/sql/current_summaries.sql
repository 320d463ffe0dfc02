-- The current state, summarised once per write (schema.add_current_summaries). Every timeline
-- row whose interval is still open (valid_to IS NULL) is the state for any date on or after
-- settled_on, the last date at which any interval starts or ends; the queries read these small
-- tables instead of the timelines for such dates (their $current branch), and a test checks
-- the two branches give the same rows. Each row carries its inspection's settled_on
-- (inspection_settled): as of an earlier date t, the rows with settled_on <= t are still the
-- state (that inspection no longer changes after it), so a past date reads these rows for the
-- settled inspections and the timelines only for the few still changing on t.

CREATE OR REPLACE TABLE rect_current AS
WITH g AS (
    SELECT list(tag) FILTER (WHERE tag_group = '重点关注') AS focus,
           list(tag) FILTER (WHERE tag_group = '四风') AS four_winds,
           list(tag) FILTER (WHERE tag_group = '选人用人') AS personnel
    FROM tag_dictionary
),
fa AS (
    SELECT t.inspection_id, t.category_l1, t.category_l2,
           count(*) AS findings,
           count(*) FILTER (WHERE t.status = 'DONE') AS findings_done,
           count(*) FILTER (WHERE t.status = 'BASICALLY_DONE') AS findings_basically_done,
           count(*) FILTER (WHERE t.status = 'OPEN') AS findings_open,
           count(*) FILTER (WHERE t.is_repeat) AS repeat_findings,
           count(*) FILTER (WHERE t.is_rebound) AS rebound_findings,
           count(*) FILTER (WHERE list_has_any(x.tags, g.focus)) AS focus_findings,
           count(*) FILTER (WHERE list_has_any(x.tags, g.four_winds)) AS four_winds_findings,
           count(*) FILTER (WHERE list_has_any(x.tags, g.personnel)) AS personnel_findings
    FROM finding_timeline t
    JOIN findings x ON x.finding_id = t.finding_id
    CROSS JOIN g
    WHERE t.valid_to IS NULL
    GROUP BY t.inspection_id, t.category_l1, t.category_l2
),
ma AS (
    SELECT inspection_id, category_l1, category_l2,
           unnest(measure_tallies(status, deadline, on_time_original, on_time_current)),
           max(deadline_original) AS last_deadline_original
    FROM measure_timeline WHERE valid_to IS NULL
    GROUP BY inspection_id, category_l1, category_l2
)
SELECT fa.*,
       coalesce(ma.measures, 0) AS measures,
       coalesce(ma.measures_done, 0) AS measures_done,
       coalesce(ma.measures_phased, 0) AS measures_phased,
       coalesce(ma.measures_in_progress, 0) AS measures_in_progress,
       coalesce(ma.measures_not_done, 0) AS measures_not_done,
       coalesce(ma.measures_long_term, 0) AS measures_long_term,
       coalesce(ma.completed_with_deadline, 0) AS completed_with_deadline,
       coalesce(ma.on_time_original, 0) AS on_time_original,
       coalesce(ma.completed_with_current_deadline, 0) AS completed_with_current_deadline,
       coalesce(ma.on_time_current, 0) AS on_time_current,
       ma.last_deadline_original,
       s.settled_on
FROM fa
JOIN inspection_settled s ON s.inspection_id = fa.inspection_id
LEFT JOIN ma
  ON ma.inspection_id = fa.inspection_id
 AND ma.category_l1 IS NOT DISTINCT FROM fa.category_l1
 AND ma.category_l2 IS NOT DISTINCT FROM fa.category_l2
ORDER BY fa.inspection_id, fa.category_l2;

CREATE OR REPLACE TABLE rect_current_dates AS
SELECT inspection_id, category_l1, category_l2, d,
       sum(open_measures)::BIGINT AS open_measures,
       sum(findings_earliest)::BIGINT AS findings_earliest,
       any_value(s.settled_on) AS settled_on
FROM (
    SELECT inspection_id, category_l1, category_l2, deadline AS d,
           1 AS open_measures, 0 AS findings_earliest
    FROM measure_timeline
    WHERE valid_to IS NULL AND status <> 'DONE' AND deadline IS NOT NULL
    UNION ALL
    SELECT inspection_id, category_l1, category_l2, earliest_open_deadline,
           0, 1
    FROM finding_timeline
    WHERE valid_to IS NULL AND earliest_open_deadline IS NOT NULL
) x
JOIN inspection_settled s USING (inspection_id)
GROUP BY inspection_id, category_l1, category_l2, d
ORDER BY inspection_id, d;

DROP TABLE IF EXISTS rect_current_cycle;

CREATE OR REPLACE TABLE rect_current_done AS
SELECT t.inspection_id, t.category_l1, t.category_l2,
       (t.done_on - t.feedback_date)::INTEGER AS days, s.settled_on
FROM finding_timeline t
JOIN inspection_settled s USING (inspection_id)
WHERE t.valid_to IS NULL AND t.status = 'DONE' AND t.done_on IS NOT NULL
ORDER BY inspection_id;

-- The measures the lists show as of a date on or after settled_on: the open ones (督办清单,
-- 长期坚持) and those whose deadline moved (延期), ~13 % of the measures, so the lists
-- read this instead of filtering every interval of the timeline.
CREATE OR REPLACE TABLE rect_current_measures AS
SELECT t.measure_id, t.finding_id, t.inspection_id, t.round_id, t.unit_id, t.category_l1,
       t.category_l2, t.status, t.deadline, t.deadline_original, s.settled_on
FROM measure_timeline t
JOIN inspection_settled s USING (inspection_id)
WHERE t.valid_to IS NULL
  AND (t.status <> 'DONE' OR t.deadline IS DISTINCT FROM t.deadline_original)
ORDER BY inspection_id, measure_id;
