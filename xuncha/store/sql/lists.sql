-- The findings' counts per inspection and category as of ANY date, for the lists and
-- distributions (问题分布, 屡查屡犯, 政治生态研判; schema.add_current_summaries, after
-- inspection_settled and the current-state summaries).
--
-- An inspection settled by the date (inspection_settled.settled_on <= date) stands on that
-- date as it stands today, so its rows of the current-state summary (rect_current) are its
-- state; only the inspections active on the date (started_on <= date < settled_on: 3,513 of
-- 44,296 at 2024-06-30 in the 1M store) are read from the timeline. For a date on or after
-- the store's settled_on no inspection is active and the timeline is not read at all. One path
-- for every date (a test checks it against the plain timeline computation,
-- finding_cells_timeline, for many dates). p_current (the date is on or after the store's
-- settled_on) only spares DuckDB planning and probing the timeline branch then: it folds away.

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

-- The findings that may stand in a 屡查屡犯 chain (queries/repeat_chains.sql): those of a unit
-- and level-2 category found in two or more rounds today. A finding stays from the first day
-- of its timeline on (its intervals follow each other and the last is open) and keeps its
-- category and 反弹 mark, so a chain of any date and scope is among these, and a finding is
-- in it on a date when first_from <= that date: the chains' rounds are read here instead of
-- from the timeline (594,221 rows against 2.85M at 1M findings).
CREATE OR REPLACE TABLE chain_findings AS
WITH f AS (
    SELECT finding_id, inspection_id, round_id, unit_id, category_l1, category_l2, is_rebound,
           min(valid_from) AS first_from
    FROM finding_timeline
    WHERE category_l2 IS NOT NULL
    GROUP BY ALL
)
SELECT * FROM f
WHERE (unit_id, category_l2) IN (
    SELECT unit_id, category_l2 FROM f GROUP BY ALL HAVING count(DISTINCT round_id) >= 2
)
ORDER BY unit_id, category_l2, round_id, finding_id;

-- The units with findings of each category as of any date, for the whole store (no inspection
-- chosen: queries/findings_by_category.sql): a unit has a finding of a category from the
-- first day of any of its findings of it on (a finding stays from the first day of its
-- timeline on and keeps its category), so the units of a category on a date are the sum of
-- `units` over first_on <= that date. One row per level-1 and level-2 category (NULL kept) and
-- first day: a few thousand rows instead of one per unit and category (230,000 at 1M
-- findings, whose grouping cost most of the query).
CREATE OR REPLACE TABLE category_entries AS
WITH firsts AS (
    SELECT category_l1, category_l2, unit_id, min(valid_from) AS first_on
    FROM finding_timeline
    GROUP BY ALL
)
SELECT category_l1, category_l2, first_on, count(*)::INTEGER AS units
FROM firsts
GROUP BY ALL
ORDER BY category_l1, category_l2, first_on;

-- The 屡查屡犯 chains of the whole store as of any date on or after the store's settled_on
-- (every inspection settled: finding_cells is the state; queries/repeat_chains.sql reads them
-- then, with level-1 categories chosen too for the chains whose findings have one): the
-- figures of each unit and level-2 category found in two or more inspections, computed as
-- that query computes them from finding_cells, once per write instead of grouping every
-- inspection × category (325,071 rows at 1M findings) on every run.
CREATE OR REPLACE TABLE chain_current AS
WITH per_round AS (
    SELECT inspection_id, unit_id, category_l2,
           sum(findings)::INTEGER AS findings,
           sum(rebound_findings) > 0 AS rebound,
           sum(findings - findings_done)::INTEGER AS open_findings,
           min(category_l1) AS l1_min, max(category_l1) AS l1_max
    FROM finding_cells
    WHERE category_l2 IS NOT NULL
    GROUP BY inspection_id, unit_id, category_l2
),
chains AS (
    SELECT unit_id, category_l2,
           -- The level-1 category of its findings; single_l1: they all have that one (the
           -- ledger files a level-2 code under its own level-1 code), so choosing level-1
           -- categories takes or leaves the chain whole.
           min(l1_min) AS category_l1, min(l1_min) = max(l1_max) AS single_l1,
           count(*) AS round_count,
           sum(findings)::BIGINT AS findings,
           count(*) FILTER (WHERE rebound) AS rebound_rounds,
           sum(open_findings)::BIGINT AS open_findings
    FROM per_round
    GROUP BY unit_id, category_l2
    HAVING count(*) >= 2
),
-- The text and the findings of each chain, as the query builds them for the chains it returns
-- (every finding of chain_findings stands on such a date).
chain_rounds AS (
    SELECT i.unit_id, t.category_l2, i.round_id,
           bool_or(t.is_rebound) AS rebound,
           list(t.finding_id ORDER BY t.finding_id) AS ids
    FROM chain_findings t
    JOIN inspections i ON i.inspection_id = t.inspection_id
    GROUP BY i.unit_id, t.category_l2, i.round_id
),
texts AS (
    SELECT p.unit_id, p.category_l2,
           chain_text(r.term, r.name, p.rebound, r.seq) AS chain,
           flatten(list(p.ids ORDER BY r.seq))::INTEGER[] AS finding_ids
    FROM chain_rounds p
    JOIN rounds r ON r.round_id = p.round_id
    GROUP BY p.unit_id, p.category_l2
)
SELECT c.*, x.chain, x.finding_ids
FROM chains c
LEFT JOIN texts x ON x.unit_id = c.unit_id AND x.category_l2 = c.category_l2
ORDER BY c.rebound_rounds DESC, c.round_count DESC, c.findings DESC, c.unit_id, c.category_l2;

-- Findings in scope on the date, one row per inspection and category (as rect_current):
-- findings, DONE, 反弹.
CREATE OR REPLACE MACRO finding_cells_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT inspection_id, round_id, unit_id, category_l1, category_l2, findings,
               findings_done, rebound_findings
        FROM finding_cells
        WHERE settled_on <= p_as_of::DATE
        UNION ALL
        SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2,
               count(*)::INTEGER, count(*) FILTER (WHERE t.status = 'DONE')::INTEGER,
               count(*) FILTER (WHERE t.is_rebound)::INTEGER
        FROM finding_timeline t
        WHERE NOT p_current
          AND t.inspection_id IN (SELECT inspection_id FROM inspection_settled
                                  WHERE started_on <= p_as_of::DATE
                                    AND settled_on > p_as_of::DATE)
          AND valid_on(t.valid_from, t.valid_to, p_as_of)
        GROUP BY ALL
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- The same with the findings of each tag group (重点关注, 四风, 选人用人: 政治生态 indicators).
CREATE OR REPLACE MACRO finding_tag_cells_at(p_as_of, p_current, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT * FROM (
        SELECT inspection_id, round_id, unit_id, category_l1, category_l2, findings,
               focus_findings, four_winds_findings, personnel_findings
        FROM finding_cells
        WHERE settled_on <= p_as_of::DATE
        UNION ALL
        SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2,
               count(*)::INTEGER,
               count(*) FILTER (WHERE list_has_any(x.tags, g.focus))::INTEGER,
               count(*) FILTER (WHERE list_has_any(x.tags, g.four_winds))::INTEGER,
               count(*) FILTER (WHERE list_has_any(x.tags, g.personnel))::INTEGER
        FROM finding_timeline t
        JOIN findings x ON x.finding_id = t.finding_id
        CROSS JOIN (
            SELECT list(tag) FILTER (WHERE tag_group = '重点关注') AS focus,
                   list(tag) FILTER (WHERE tag_group = '四风') AS four_winds,
                   list(tag) FILTER (WHERE tag_group = '选人用人') AS personnel
            FROM tag_dictionary
        ) g
        WHERE NOT p_current
          AND t.inspection_id IN (SELECT inspection_id FROM inspection_settled
                                  WHERE started_on <= p_as_of::DATE
                                    AND settled_on > p_as_of::DATE)
          AND valid_on(t.valid_from, t.valid_to, p_as_of)
        GROUP BY t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2
    ) s
    WHERE in_scope(s.inspection_id, s.category_l1, s.category_l2, p_ids, p_l1s, p_l2s);

-- The plain timeline computation of both, for the tests that prove the macros above equal it
-- (tests/test_past_lists.py): every finding's interval holding the date, counted per
-- inspection and category.
CREATE OR REPLACE MACRO finding_tag_cells_timeline(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2,
           count(*)::INTEGER AS findings,
           count(*) FILTER (WHERE list_has_any(x.tags, g.focus))::INTEGER AS focus_findings,
           count(*) FILTER (WHERE list_has_any(x.tags, g.four_winds))::INTEGER
               AS four_winds_findings,
           count(*) FILTER (WHERE list_has_any(x.tags, g.personnel))::INTEGER
               AS personnel_findings
    FROM finding_at(p_as_of, p_ids, p_l1s, p_l2s) t
    JOIN findings x ON x.finding_id = t.finding_id
    CROSS JOIN (
        SELECT list(tag) FILTER (WHERE tag_group = '重点关注') AS focus,
               list(tag) FILTER (WHERE tag_group = '四风') AS four_winds,
               list(tag) FILTER (WHERE tag_group = '选人用人') AS personnel
        FROM tag_dictionary
    ) g
    GROUP BY t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2;

CREATE OR REPLACE MACRO finding_cells_timeline(p_as_of, p_ids, p_l1s, p_l2s) AS TABLE
    SELECT t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2,
           count(*)::INTEGER AS findings,
           count(*) FILTER (WHERE t.status = 'DONE')::INTEGER AS findings_done,
           count(*) FILTER (WHERE t.is_rebound)::INTEGER AS rebound_findings
    FROM finding_at(p_as_of, p_ids, p_l1s, p_l2s) t
    GROUP BY t.inspection_id, t.round_id, t.unit_id, t.category_l1, t.category_l2;

-- chain_findings as the timeline gives it on a date (every finding holding on it), for the
-- same tests.
CREATE OR REPLACE MACRO chain_findings_timeline(p_as_of) AS TABLE
    SELECT finding_id, inspection_id, round_id, unit_id, category_l1, category_l2, is_rebound,
           valid_from AS first_from
    FROM finding_at(p_as_of, NULL, NULL, NULL)
    WHERE category_l2 IS NOT NULL;
