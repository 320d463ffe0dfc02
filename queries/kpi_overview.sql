-- name: kpi_overview
-- returns: headline counts of the overview that are not rectification figures: rounds, units, clues, outcomes
-- grain: one row
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  only inspections fed back on or before this date count
-- columns:
--   rounds BIGINT  rounds with an inspection in scope
--   units_inspected BIGINT  distinct units inspected
--   inspections BIGINT  inspections (round × unit)
--   clues BIGINT  problem clues of those inspections
--   clue_persons BIGINT  persons involved in those clues
--   regulations BIGINT  regulations made or revised (建章立制)
--   funds_wan DECIMAL(38,2)  funds recovered (万元)
--   persons_accountable BIGINT  persons held accountable
WITH i AS (
    SELECT * FROM inspections
    WHERE ($inspection_ids::INTEGER[] IS NULL OR inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND feedback_date <= $as_of::DATE
)
SELECT
    (SELECT count(DISTINCT round_id) FROM i) AS rounds,
    (SELECT count(DISTINCT unit_id) FROM i) AS units_inspected,
    (SELECT count(*) FROM i) AS inspections,
    (SELECT count(*) FROM clues c WHERE c.inspection_id IN (SELECT inspection_id FROM i)) AS clues,
    (SELECT coalesce(sum(persons), 0) FROM clues c
      WHERE c.inspection_id IN (SELECT inspection_id FROM i))::BIGINT AS clue_persons,
    (SELECT coalesce(sum(regulations), 0) FROM outcomes o
      WHERE o.inspection_id IN (SELECT inspection_id FROM i))::BIGINT AS regulations,
    (SELECT coalesce(sum(funds_wan), 0) FROM outcomes o
      WHERE o.inspection_id IN (SELECT inspection_id FROM i))::DECIMAL(38, 2) AS funds_wan,
    (SELECT coalesce(sum(persons_accountable), 0) FROM outcomes o
      WHERE o.inspection_id IN (SELECT inspection_id FROM i))::BIGINT AS persons_accountable
