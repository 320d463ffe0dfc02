-- The table macros of the vocabulary (see vocabulary.sql): rows as of a date, in scope. DuckDB
-- checks a table macro's tables when it is created, so these are installed after the derived
-- tables they read (schema.refresh_derived, add_current_summaries; the sandbox's build).

-- The inspection is still changing on the date (started on or before it, settled after it:
-- inspection_settled). As of a date before the store's settled_on the summaries (rect_current*)
-- still hold for every other inspection: a row there whose settled_on is on or before the date
-- (settled_by) is the state, and the timelines are read for these few inspections only. The
-- timelines are ordered by round and unit and the inspections of a round change in the same
-- months, so DuckDB's join filter on inspection_id skips most of their row groups.
CREATE OR REPLACE MACRO active_on(p_inspection_id, p_as_of) AS
    p_inspection_id IN (SELECT inspection_id FROM inspection_settled
                        WHERE started_on <= p_as_of::DATE AND settled_on > p_as_of::DATE);

-- A summary row holds on the date: every inspection is settled (p_current), or its own is.
CREATE OR REPLACE MACRO settled_by(p_settled_on, p_as_of, p_current) AS
    (p_current OR p_settled_on <= p_as_of::DATE);

-- The timeline rows holding the date of the inspections still changing on it (active_on): what
-- a figure as of a date before the store's settled_on adds to the summaries of the settled
-- ones. None on or after settled_on (p_current: DuckDB drops the scan).
CREATE OR REPLACE MACRO finding_active_at(p_as_of, p_current) AS TABLE
    SELECT * FROM finding_timeline t
    WHERE NOT p_current AND valid_on(t.valid_from, t.valid_to, p_as_of)
      AND active_on(t.inspection_id, p_as_of);

CREATE OR REPLACE MACRO measure_active_at(p_as_of, p_current) AS TABLE
    SELECT * FROM measure_timeline t
    WHERE NOT p_current AND valid_on(t.valid_from, t.valid_to, p_as_of)
      AND active_on(t.inspection_id, p_as_of);

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
-- deadline had moved by then. From the small summary rect_current_measures for the inspections
-- settled by the date (all of them on or after settled_on: p_current), and from the timeline
-- for those still changing on it (none when p_current: DuckDB drops that branch).
-- The scope test is written once, over both branches: each IN (SELECT unnest(…)) is a subquery
-- DuckDB plans, and planning it in each branch cost 4 ms a call.
CREATE OR REPLACE MACRO listed_measures_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT measure_id, finding_id, inspection_id, round_id, unit_id, category_l1,
               category_l2, status, deadline, deadline_original
        FROM rect_current_measures
        WHERE settled_by(settled_on, p_as_of, p_current)
        UNION ALL
        SELECT measure_id, finding_id, inspection_id, round_id, unit_id, category_l1,
               category_l2, status, deadline, deadline_original
        FROM measure_timeline t
        WHERE NOT p_current
          AND valid_on(t.valid_from, t.valid_to, p_as_of)
          AND active_on(t.inspection_id, p_as_of)
          AND (t.status <> 'DONE' OR t.deadline IS DISTINCT FROM t.deadline_original)
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- Findings in scope on the date, counted per inspection and category (with the unit): all and
-- DONE. From rect_current for the inspections settled by the date (all on or after
-- settled_on: p_current), from the timeline for those still changing on it.
CREATE OR REPLACE MACRO finding_counts_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT c.inspection_id, i.unit_id, c.category_l1, c.category_l2, c.findings,
               c.findings_done
        FROM rect_current c
        JOIN inspections i ON i.inspection_id = c.inspection_id
        WHERE settled_by(c.settled_on, p_as_of, p_current)
        UNION ALL
        SELECT t.inspection_id, t.unit_id, t.category_l1, t.category_l2, 1 AS findings,
               (t.status = 'DONE')::INTEGER AS findings_done
        FROM finding_timeline t
        WHERE NOT p_current AND valid_on(t.valid_from, t.valid_to, p_as_of)
          AND active_on(t.inspection_id, p_as_of)
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- Open measures in scope with a dated deadline on the date, as (deadline, how many): from
-- rect_current_dates for the inspections settled by the date (all on or after settled_on:
-- p_current), from the timeline for those still changing on it.
CREATE OR REPLACE MACRO open_deadlines_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT deadline, n FROM (
        SELECT d.inspection_id, d.category_l1, d.category_l2, d.d AS deadline,
               d.open_measures AS n
        FROM rect_current_dates d
        WHERE settled_by(d.settled_on, p_as_of, p_current) AND d.open_measures > 0
        UNION ALL
        SELECT t.inspection_id, t.category_l1, t.category_l2, t.deadline, 1
        FROM measure_timeline t
        WHERE NOT p_current AND valid_on(t.valid_from, t.valid_to, p_as_of)
          AND active_on(t.inspection_id, p_as_of)
          AND t.status <> 'DONE' AND t.deadline IS NOT NULL
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- Every interval of each finding in scope begun on or before the date (its history up to the
-- date: the 整改进度曲线 reads when each finding became DONE).
CREATE OR REPLACE MACRO finding_history(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM finding_timeline t
    WHERE in_scope(t.inspection_id, t.category_l1, t.category_l2, p_ids, p_l1s, p_l2s)
      AND t.valid_from <= p_as_of::DATE;
