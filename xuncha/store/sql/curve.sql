-- The 整改进度曲线 (queries/rectification_curve.sql) as of ANY date from small rows kept at
-- write time (schema.add_current_summaries, after inspection_settled).
--
-- The curve counts, per round and day since 反馈日期, the findings DONE (BASICALLY_DONE) on
-- that day, by difference arrays: +1 where such an interval starts, -1 where it ends. An
-- inspection settled by the date (inspection_settled.settled_on <= date) has had every
-- interval start and every closed interval end by then, so its deltas and its findings are
-- the same on every such date: they are summed once here, per inspection × category × day
-- (1.16M rows against the 2.85M intervals of finding_timeline at 1M findings, with no status
-- text to compare). Only the inspections still changing on the date (active_on) are read from
-- the timeline, as every other figure of a past date reads them (DOMAIN.md §5).

-- Per inspection, category and day since the inspection's 反馈日期: the findings (on day 0
-- only: each finding's last interval is open, so counting those counts each once), and the
-- change in findings DONE and BASICALLY_DONE on that day. Rows of no change are left out.
CREATE OR REPLACE TABLE curve_cells AS
WITH ev AS (
    SELECT inspection_id, category_l1, category_l2, 0 AS day, 1 AS findings, 0 AS d_done,
           0 AS d_basic
    FROM finding_timeline WHERE valid_to IS NULL
    UNION ALL
    SELECT inspection_id, category_l1, category_l2, valid_from - feedback_date, 0,
           (status = 'DONE')::INTEGER, (status = 'BASICALLY_DONE')::INTEGER
    FROM finding_timeline WHERE status IN ('DONE', 'BASICALLY_DONE')
    UNION ALL
    SELECT inspection_id, category_l1, category_l2, valid_to - feedback_date, 0,
           -(status = 'DONE')::INTEGER, -(status = 'BASICALLY_DONE')::INTEGER
    FROM finding_timeline
    WHERE status IN ('DONE', 'BASICALLY_DONE') AND valid_to IS NOT NULL
),
cells AS (
    SELECT inspection_id, category_l1, category_l2, day, sum(findings)::INTEGER AS findings,
           sum(d_done)::INTEGER AS d_done, sum(d_basic)::INTEGER AS d_basic
    FROM ev GROUP BY ALL
)
SELECT i.round_id, c.inspection_id, c.category_l1, c.category_l2, s.settled_on,
       i.feedback_date, c.day::INTEGER AS day, c.findings, c.d_done, c.d_basic
FROM cells c
JOIN inspections i ON i.inspection_id = c.inspection_id
JOIN inspection_settled s ON s.inspection_id = c.inspection_id
WHERE c.findings <> 0 OR c.d_done <> 0 OR c.d_basic <> 0
ORDER BY i.round_id, c.inspection_id, c.category_l1, c.category_l2, c.day;

-- The same summed over the inspections, per round, category and day: what a date on or after
-- the store's settled_on reads for the whole store (65k rows against 1.16M at 1M findings).
-- last_feedback is the latest 反馈日期 of the findings counted on the row (day 0; else NULL).
CREATE OR REPLACE TABLE curve_whole AS
SELECT round_id, category_l1, category_l2, day, sum(findings)::INTEGER AS findings,
       max(feedback_date) FILTER (WHERE findings > 0) AS last_feedback,
       sum(d_done)::INTEGER AS d_done, sum(d_basic)::INTEGER AS d_basic
FROM curve_cells
GROUP BY ALL
ORDER BY ALL;

-- Summed over the inspections settled on the same day, per round and day, without the
-- categories: what an earlier date reads for the whole store without a category (240k rows
-- against 1.16M at 1M findings; ordered by settled_on, so a date's scan stops at it).
CREATE OR REPLACE TABLE curve_settled AS
SELECT round_id, settled_on, day, sum(findings)::INTEGER AS findings,
       max(feedback_date) FILTER (WHERE findings > 0) AS last_feedback,
       sum(d_done)::INTEGER AS d_done, sum(d_basic)::INTEGER AS d_basic
FROM curve_cells
GROUP BY ALL
ORDER BY settled_on, round_id, day;

-- The curve's rows in scope as of the date, as (round, 反馈日期, day, findings, d_done,
-- d_basic): for the whole store on or after its settled_on (p_current, no inspection list)
-- curve_whole (反馈日期: the latest of the row's findings); before it, for the whole store
-- without a category, curve_settled for the inspections settled by the date; else
-- curve_cells for those; and for the inspections still changing on it their timeline
-- intervals begun by the date: a finding holding on it counts on day 0, a DONE
-- (BASICALLY_DONE) interval adds its start and, when it ended by the date, its end: one scan,
-- each interval crossed with kinds 0, 1, 2 (3× faster than unnesting a list of structs); a
-- row of zeros changes nothing. DuckDB drops the branches whose test on the parameters is
-- false; the scope test is written once, over all of them.
CREATE OR REPLACE MACRO curve_deltas_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT round_id, feedback_date, day, findings, d_done, d_basic FROM (
        SELECT NULL::INTEGER AS inspection_id, category_l1, category_l2, round_id,
               last_feedback AS feedback_date, day, findings, d_done, d_basic
        FROM curve_whole
        WHERE p_current AND p_ids IS NULL
        UNION ALL
        SELECT NULL::INTEGER, NULL::VARCHAR, NULL::VARCHAR, round_id,
               last_feedback, day, findings, d_done, d_basic
        FROM curve_settled
        WHERE NOT p_current AND p_ids IS NULL AND p_l1s IS NULL AND p_l2s IS NULL
          AND settled_on <= p_as_of::DATE
        UNION ALL
        SELECT inspection_id, category_l1, category_l2, round_id, feedback_date, day,
               findings, d_done, d_basic
        FROM curve_cells
        WHERE (p_ids IS NOT NULL OR (NOT p_current AND (p_l1s IS NOT NULL OR p_l2s IS NOT NULL)))
          AND settled_by(settled_on, p_as_of, p_current)
        UNION ALL
        SELECT t.inspection_id, t.category_l1, t.category_l2, t.round_id, t.feedback_date,
               CASE k.kind WHEN 0 THEN 0
                           WHEN 1 THEN t.valid_from - t.feedback_date
                           ELSE t.valid_to - t.feedback_date END,
               CASE WHEN k.kind = 0 THEN valid_on(t.valid_from, t.valid_to, p_as_of)::INTEGER
                    ELSE 0 END,
               CASE k.kind WHEN 0 THEN 0
                           WHEN 1 THEN (t.status = 'DONE')::INTEGER
                           ELSE -(t.status = 'DONE' AND t.valid_to <= p_as_of::DATE)::INTEGER END,
               CASE k.kind WHEN 0 THEN 0
                           WHEN 1 THEN (t.status = 'BASICALLY_DONE')::INTEGER
                           ELSE -(t.status = 'BASICALLY_DONE'
                                  AND t.valid_to <= p_as_of::DATE)::INTEGER END
        FROM finding_timeline t
        CROSS JOIN (VALUES (0), (1), (2)) k(kind)
        WHERE NOT p_current AND t.valid_from <= p_as_of::DATE
          AND active_on(t.inspection_id, p_as_of)
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- The plain timeline computation of the same rows, for the tests that prove the macro above
-- equals it (tests/test_past_progress.py): every interval in scope begun by the date.
CREATE OR REPLACE MACRO curve_deltas_timeline(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT t.round_id, t.feedback_date, 0 AS day, 1 AS findings, 0 AS d_done, 0 AS d_basic
    FROM finding_at(p_as_of, p_ids, p_l1s, p_l2s) t
    UNION ALL
    SELECT t.round_id, t.feedback_date, t.valid_from - t.feedback_date, 0,
           (t.status = 'DONE')::INTEGER, (t.status = 'BASICALLY_DONE')::INTEGER
    FROM finding_history(p_as_of, p_ids, p_l1s, p_l2s) t
    WHERE t.status IN ('DONE', 'BASICALLY_DONE')
    UNION ALL
    SELECT t.round_id, t.feedback_date, t.valid_to - t.feedback_date, 0,
           -(t.status = 'DONE')::INTEGER, -(t.status = 'BASICALLY_DONE')::INTEGER
    FROM finding_history(p_as_of, p_ids, p_l1s, p_l2s) t
    WHERE t.status IN ('DONE', 'BASICALLY_DONE') AND t.valid_to <= p_as_of::DATE;
