-- name: clue_cells
-- returns: the clue figures of each inspection in scope fed back by the date (those without clues too, with zeros), the cells every clue figure shown without clue rights is built from (xuncha.figures.disclosure, DOMAIN.md §7); a clue's form counts from its closing date (a form recorded on a clue not yet closed counts from the 反馈日期), as in ecology_unit_counts
-- grain: one row per inspection_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  only inspections fed back on or before this date count
-- columns:
--   inspection_id INTEGER  inspection
--   round_id INTEGER  its round
--   unit_id INTEGER  its unit
--   clues BIGINT  problem clues of the inspection
--   persons BIGINT  persons involved in them
--   heavier_form_clues BIGINT  clues dealt with by the 第三种形态 or 第四种形态 as of the date
--   heavier_form_persons BIGINT  persons in those clues
--   fourth_form_clues BIGINT  clues dealt with by the 第四种形态 as of the date
--   fourth_form_persons BIGINT  persons in those clues
--   closed BIGINT  clues closed (办结) on or before the date
WITH i AS (
    SELECT inspection_id, round_id, unit_id FROM inspections
    WHERE in_inspections(inspection_id, $inspection_ids)
      AND feedback_date <= $as_of::DATE
),
c AS (
    SELECT c.inspection_id, c.persons, c.closed_on <= $as_of::DATE AS closed,
           c.form IN ('第三种形态', '第四种形态')
               AND (c.closed_on IS NULL OR c.closed_on <= $as_of::DATE) AS heavier,
           c.form = '第四种形态'
               AND (c.closed_on IS NULL OR c.closed_on <= $as_of::DATE) AS fourth
    FROM clues c JOIN i ON i.inspection_id = c.inspection_id
),
ca AS (
    SELECT inspection_id, count(*) AS clues, coalesce(sum(persons), 0) AS persons,
           count(*) FILTER (WHERE heavier) AS heavier_form_clues,
           coalesce(sum(persons) FILTER (WHERE heavier), 0) AS heavier_form_persons,
           count(*) FILTER (WHERE fourth) AS fourth_form_clues,
           coalesce(sum(persons) FILTER (WHERE fourth), 0) AS fourth_form_persons,
           count(*) FILTER (WHERE closed) AS closed
    FROM c GROUP BY inspection_id
)
SELECT i.inspection_id, i.round_id, i.unit_id,
       coalesce(ca.clues, 0)::BIGINT AS clues,
       coalesce(ca.persons, 0)::BIGINT AS persons,
       coalesce(ca.heavier_form_clues, 0)::BIGINT AS heavier_form_clues,
       coalesce(ca.heavier_form_persons, 0)::BIGINT AS heavier_form_persons,
       coalesce(ca.fourth_form_clues, 0)::BIGINT AS fourth_form_clues,
       coalesce(ca.fourth_form_persons, 0)::BIGINT AS fourth_form_persons,
       coalesce(ca.closed, 0)::BIGINT AS closed
FROM i LEFT JOIN ca ON ca.inspection_id = i.inspection_id
ORDER BY i.inspection_id
