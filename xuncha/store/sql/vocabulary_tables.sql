-- The table macros of the vocabulary (see vocabulary.sql): rows as of a date, in scope. DuckDB
-- checks a table macro's tables when it is created, so these are installed after the derived
-- tables they read (schema.refresh_derived, add_current_summaries; the sandbox's build).

-- Each finding in scope as it stood on the date (finding_timeline's interval holding it).
CREATE OR REPLACE MACRO finding_at(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM finding_timeline t
    WHERE in_scope(t.inspection_id, t.category_l1, t.category_l2, p_ids, p_l1s, p_l2s)
      AND valid_on(t.valid_from, t.valid_to, p_as_of);

-- Each measure in scope as it stood on the date (measure_timeline's interval holding it).
CREATE OR REPLACE MACRO measure_at(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM measure_timeline t
    WHERE in_scope(t.inspection_id, t.category_l1, t.category_l2, p_ids, p_l1s, p_l2s)
      AND valid_on(t.valid_from, t.valid_to, p_as_of);

-- The measures the lists may show (督办清单, 长期坚持, 延期): those open on the date or whose
-- deadline had moved by then. On or after settled_on (p_current) from the small summary
-- rect_current_measures, else from the timeline; DuckDB drops the branch whose test is false.
-- The scope test is written once, over both branches: each IN (SELECT unnest(…)) is a subquery
-- DuckDB plans, and planning it in each branch cost 4 ms a call.
CREATE OR REPLACE MACRO listed_measures_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT measure_id, finding_id, inspection_id, round_id, unit_id, category_l1,
               category_l2, status, deadline, deadline_original
        FROM rect_current_measures
        WHERE p_current
        UNION ALL
        SELECT measure_id, finding_id, inspection_id, round_id, unit_id, category_l1,
               category_l2, status, deadline, deadline_original
        FROM measure_timeline t
        WHERE NOT p_current
          AND valid_on(t.valid_from, t.valid_to, p_as_of)
          AND (t.status <> 'DONE' OR t.deadline IS DISTINCT FROM t.deadline_original)
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- Findings in scope on the date, counted per inspection and category (with the unit): all and
-- DONE. From rect_current on or after settled_on (p_current), else from the timeline.
CREATE OR REPLACE MACRO finding_counts_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT c.inspection_id, i.unit_id, c.category_l1, c.category_l2, c.findings,
               c.findings_done
        FROM rect_current c
        JOIN inspections i ON i.inspection_id = c.inspection_id
        WHERE p_current
        UNION ALL
        SELECT t.inspection_id, t.unit_id, t.category_l1, t.category_l2, 1 AS findings,
               (t.status = 'DONE')::INTEGER AS findings_done
        FROM finding_timeline t
        WHERE NOT p_current AND valid_on(t.valid_from, t.valid_to, p_as_of)
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- Open measures in scope with a dated deadline on the date, as (deadline, how many): from
-- rect_current_dates on or after settled_on (p_current), else from the timeline.
CREATE OR REPLACE MACRO open_deadlines_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT deadline, n FROM (
        SELECT d.inspection_id, d.category_l1, d.category_l2, d.d AS deadline,
               d.open_measures AS n
        FROM rect_current_dates d
        WHERE p_current AND d.open_measures > 0
        UNION ALL
        SELECT t.inspection_id, t.category_l1, t.category_l2, t.deadline, 1
        FROM measure_timeline t
        WHERE NOT p_current AND valid_on(t.valid_from, t.valid_to, p_as_of)
          AND t.status <> 'DONE' AND t.deadline IS NOT NULL
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- Every interval of each finding in scope begun on or before the date (its history up to the
-- date: the 整改进度曲线 reads when each finding became DONE).
CREATE OR REPLACE MACRO finding_history(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM finding_timeline t
    WHERE in_scope(t.inspection_id, t.category_l1, t.category_l2, p_ids, p_l1s, p_l2s)
      AND t.valid_from <= p_as_of::DATE;
