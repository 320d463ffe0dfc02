-- name: kpi_overview
-- returns: headline counts of the overview that are not rectification figures: rounds, units, outcomes (clue figures: clue_cells, shown through xuncha.figures.disclosure)
-- grain: one row
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  only inspections fed back on or before this date count
-- columns:
--   rounds BIGINT  rounds with an inspection in scope
--   units_inspected BIGINT  distinct units inspected
--   inspections BIGINT  inspections (round × unit)
--   regulations BIGINT  regulations made or revised (建章立制)
--   funds_wan DECIMAL(38,2)  funds recovered (万元)
--   persons_accountable BIGINT  persons held accountable
WITH i AS (
    SELECT inspection_id, round_id, unit_id FROM inspections
    WHERE in_inspections(inspection_id, $inspection_ids)
      AND feedback_date <= $as_of::DATE
),
-- Each table read once (scalar subqueries read outcomes three times).
n AS (
    SELECT count(DISTINCT round_id) AS rounds, count(DISTINCT unit_id) AS units_inspected,
           count(*) AS inspections
    FROM i
),
o AS (
    SELECT coalesce(sum(regulations), 0)::BIGINT AS regulations,
           coalesce(sum(funds_wan), 0)::DECIMAL(38, 2) AS funds_wan,
           coalesce(sum(persons_accountable), 0)::BIGINT AS persons_accountable
    FROM outcomes WHERE inspection_id IN (SELECT inspection_id FROM i)
)
SELECT n.rounds, n.units_inspected, n.inspections,
       o.regulations, o.funds_wan, o.persons_accountable
FROM n, o
