-- name: ecology_unit_counts
-- returns: the counts behind the political-ecology indicators of DOMAIN.md §6 that rectification_counts does not give (inspections, L1 = A, tagged findings, clues and their forms, 建章立制), per unit inspected in scope and fed back by the date; clues and outcomes belong to inspections, so category filters do not narrow them; a clue's form counts from its closing date (a form recorded on a clue not yet closed counts from the 反馈日期, the store keeps no earlier date)
-- grain: one row per round_id, unit_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
--   $by_round BOOLEAN  count each round apart (one row per round and unit, as if each round were asked alone); false: one row per unit, round_id NULL
-- columns:
--   round_id INTEGER  the round (when $by_round; else NULL)
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit short name
--   peer_group VARCHAR  its peer group
--   sector VARCHAR  its sector
--   inspections BIGINT  inspections of the unit in scope fed back on or before the date (with or without findings)
--   earlier_inspections BIGINT  inspections of the unit in rounds before its latest round in scope (0: repeats cannot be observed)
--   findings BIGINT  findings in scope as of the date
--   findings_l1_a BIGINT  of those, level-1 category A
--   focus_findings BIGINT  findings with a tag of the 重点关注 group
--   four_winds_findings BIGINT  findings with a tag of the 四风 group
--   personnel_findings BIGINT  findings with a tag of the 选人用人 group
--   clues BIGINT  problem clues of the unit's inspections
--   heavier_form_clues BIGINT  clues dealt with by the 第三种形态 or 第四种形态 as of the date
--   heavier_form_persons BIGINT  persons in those clues
--   fourth_form_clues BIGINT  clues dealt with by the 第四种形态 as of the date
--   fourth_form_persons BIGINT  persons in those clues
--   outcome_inspections BIGINT  inspections with an outcome (成效) record
--   regulations BIGINT  regulations made or revised (建章立制) in those records (NULL: no record)
WITH i AS (
    -- gr: the round when counting each round apart ($by_round), else -1 (one group per unit).
    SELECT i.inspection_id, i.unit_id, r.seq,
           CASE WHEN $by_round THEN i.round_id ELSE -1 END AS gr
    FROM inspections i
    JOIN rounds r ON r.round_id = i.round_id
    WHERE in_inspections(i.inspection_id, $inspection_ids)
      AND i.feedback_date <= $as_of::DATE
),
fa AS (
    -- The summaries of the inspections settled by the date (the tag groups counted per
    -- inspection and category already), the timeline of those still active (lists.sql).
    SELECT i.gr, i.unit_id, sum(c.findings)::BIGINT AS findings,
           coalesce(sum(c.findings) FILTER (WHERE c.category_l1 = 'A'), 0)::BIGINT AS findings_l1_a,
           sum(c.focus_findings)::BIGINT AS focus_findings,
           sum(c.four_winds_findings)::BIGINT AS four_winds_findings,
           sum(c.personnel_findings)::BIGINT AS personnel_findings
    FROM finding_tag_cells_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) c
    JOIN i ON i.inspection_id = c.inspection_id
    GROUP BY i.gr, i.unit_id
),
c AS (
    SELECT i.gr, i.unit_id, c.persons,
           c.form IN ('第三种形态', '第四种形态')
               AND (c.closed_on IS NULL OR c.closed_on <= $as_of::DATE) AS heavier,
           c.form = '第四种形态'
               AND (c.closed_on IS NULL OR c.closed_on <= $as_of::DATE) AS fourth
    FROM clues c JOIN i ON i.inspection_id = c.inspection_id
),
ca AS (
    SELECT gr, unit_id, count(*) AS clues,
           count(*) FILTER (WHERE heavier) AS heavier_form_clues,
           coalesce(sum(persons) FILTER (WHERE heavier), 0) AS heavier_form_persons,
           count(*) FILTER (WHERE fourth) AS fourth_form_clues,
           coalesce(sum(persons) FILTER (WHERE fourth), 0) AS fourth_form_persons
    FROM c GROUP BY gr, unit_id
),
oa AS (
    SELECT i.gr, i.unit_id, count(*) AS outcome_inspections, sum(o.regulations) AS regulations
    FROM outcomes o JOIN i ON i.inspection_id = o.inspection_id
    GROUP BY i.gr, i.unit_id
),
ia AS (
    SELECT gr, unit_id, count(*) AS inspections, max(seq) AS last_seq FROM i GROUP BY gr, unit_id
),
ea AS (
    SELECT ia.gr, ia.unit_id, count(*) FILTER (WHERE r.seq < ia.last_seq) AS earlier_inspections
    FROM ia
    JOIN inspections x ON x.unit_id = ia.unit_id
    JOIN rounds r ON r.round_id = x.round_id
    GROUP BY ia.gr, ia.unit_id
)
SELECT CASE WHEN $by_round THEN ia.gr END::INTEGER AS round_id,
       u.unit_id, u.short_name AS unit_name, u.peer_group, u.sector,
       ia.inspections, ea.earlier_inspections,
       coalesce(fa.findings, 0) AS findings,
       coalesce(fa.findings_l1_a, 0) AS findings_l1_a,
       coalesce(fa.focus_findings, 0) AS focus_findings,
       coalesce(fa.four_winds_findings, 0) AS four_winds_findings,
       coalesce(fa.personnel_findings, 0) AS personnel_findings,
       coalesce(ca.clues, 0) AS clues,
       coalesce(ca.heavier_form_clues, 0) AS heavier_form_clues,
       coalesce(ca.heavier_form_persons, 0)::BIGINT AS heavier_form_persons,
       coalesce(ca.fourth_form_clues, 0) AS fourth_form_clues,
       coalesce(ca.fourth_form_persons, 0)::BIGINT AS fourth_form_persons,
       coalesce(oa.outcome_inspections, 0) AS outcome_inspections,
       oa.regulations::BIGINT AS regulations
FROM ia
JOIN units u ON u.unit_id = ia.unit_id
JOIN ea ON ea.gr = ia.gr AND ea.unit_id = ia.unit_id
LEFT JOIN fa ON fa.gr = ia.gr AND fa.unit_id = ia.unit_id
LEFT JOIN ca ON ca.gr = ia.gr AND ca.unit_id = ia.unit_id
LEFT JOIN oa ON oa.gr = ia.gr AND oa.unit_id = ia.unit_id
ORDER BY ia.gr, u.peer_group, u.unit_id
