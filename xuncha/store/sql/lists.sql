-- The findings' counts per inspection and category as of ANY date, for the lists and
-- distributions (问题分布, 屡查屡犯, 政治生态研判; schema.add_current_summaries, after
-- inspection_settled and the current-state summaries).
--
-- An inspection settled by the date (inspection_settled.settled_on <= date) stands on that
-- date as it stands today, so its rows of the current-state summary (rect_current) are its
-- state; only the inspections active on the date (started_on <= date < settled_on: 3,513 of
-- 44,296 at 2024-06-30 in the 1M store) are read from the timeline. For a date on or after
-- the store's settled_on no inspection is active and the timeline is not read at all. One path
-- for every date, so the queries need no $current branch (and a test checks it against the
-- plain timeline computation, finding_cells_timeline, for many dates).

-- rect_current's finding counts with what the lists group by (round, unit) and the date from
-- which each row is the state (settled_on), so that no query joins them again.
CREATE OR REPLACE TABLE finding_cells AS
SELECT c.inspection_id, i.round_id, i.unit_id, c.category_l1, c.category_l2, s.settled_on,
       c.findings::INTEGER AS findings, c.findings_done::INTEGER AS findings_done,
       c.rebound_findings::INTEGER AS rebound_findings,
       c.focus_findings::INTEGER AS focus_findings,
       c.four_winds_findings::INTEGER AS four_winds_findings,
       c.personnel_findings::INTEGER AS personnel_findings
FROM rect_current c
JOIN inspections i ON i.inspection_id = c.inspection_id
JOIN inspection_settled s ON s.inspection_id = c.inspection_id
ORDER BY c.inspection_id, c.category_l1, c.category_l2;

-- Findings in scope on the date per inspection and category (a timeline row of an active
-- inspection counts one finding): findings, DONE, 反弹. Rows are not summed per category for
-- the active inspections; the queries sum them.
CREATE OR REPLACE MACRO finding_cells_at(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT inspection_id, round_id, unit_id, category_l1, category_l2, findings,
               findings_done, rebound_findings
        FROM finding_cells
        WHERE settled_on <= p_as_of::DATE
        UNION ALL
        SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2,
               1, (t.status = 'DONE')::INTEGER, t.is_rebound::INTEGER
        FROM finding_timeline t
        WHERE t.inspection_id IN (SELECT inspection_id FROM inspection_settled
                                  WHERE started_on <= p_as_of::DATE
                                    AND settled_on > p_as_of::DATE)
          AND valid_on(t.valid_from, t.valid_to, p_as_of)
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- The same with the findings of each tag group (重点关注, 四风, 选人用人: 政治生态 indicators).
CREATE OR REPLACE MACRO finding_tag_cells_at(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT inspection_id, round_id, unit_id, category_l1, category_l2, findings,
               focus_findings, four_winds_findings, personnel_findings
        FROM finding_cells
        WHERE settled_on <= p_as_of::DATE
        UNION ALL
        SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2, 1,
               list_has_any(x.tags, g.focus)::INTEGER,
               list_has_any(x.tags, g.four_winds)::INTEGER,
               list_has_any(x.tags, g.personnel)::INTEGER
        FROM finding_timeline t
        JOIN findings x ON x.finding_id = t.finding_id
        CROSS JOIN (
            SELECT list(tag) FILTER (WHERE tag_group = '重点关注') AS focus,
                   list(tag) FILTER (WHERE tag_group = '四风') AS four_winds,
                   list(tag) FILTER (WHERE tag_group = '选人用人') AS personnel
            FROM tag_dictionary
        ) g
        WHERE t.inspection_id IN (SELECT inspection_id FROM inspection_settled
                                  WHERE started_on <= p_as_of::DATE
                                    AND settled_on > p_as_of::DATE)
          AND valid_on(t.valid_from, t.valid_to, p_as_of)
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- The plain timeline computation of both, for the tests that prove the macros above equal it
-- (tests/test_past_lists.py): every finding's interval holding the date.
CREATE OR REPLACE MACRO finding_tag_cells_timeline(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2, 1 AS findings,
           list_has_any(x.tags, g.focus)::INTEGER AS focus_findings,
           list_has_any(x.tags, g.four_winds)::INTEGER AS four_winds_findings,
           list_has_any(x.tags, g.personnel)::INTEGER AS personnel_findings
    FROM finding_at(p_as_of, p_ids, p_l1s, p_l2s) t
    JOIN findings x ON x.finding_id = t.finding_id
    CROSS JOIN (
        SELECT list(tag) FILTER (WHERE tag_group = '重点关注') AS focus,
               list(tag) FILTER (WHERE tag_group = '四风') AS four_winds,
               list(tag) FILTER (WHERE tag_group = '选人用人') AS personnel
        FROM tag_dictionary
    ) g;

CREATE OR REPLACE MACRO finding_cells_timeline(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2, 1 AS findings,
           (t.status = 'DONE')::INTEGER AS findings_done,
           t.is_rebound::INTEGER AS rebound_findings
    FROM finding_at(p_as_of, p_ids, p_l1s, p_l2s) t;
