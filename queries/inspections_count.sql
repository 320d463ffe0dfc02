-- name: inspections_count
-- returns: how many inspections the store holds (a scope holding all of them passes NULL instead of the list)
-- grain: one row
-- params:
-- columns:
--   inspections BIGINT  inspections (round × unit)
SELECT count(*) AS inspections FROM inspections
