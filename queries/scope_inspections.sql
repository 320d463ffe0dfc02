-- name: scope_inspections
-- returns: the inspections selected by the global filters (round range, kinds, sectors, peer groups, units)
-- grain: one row per inspection_id
-- params:
--   $round_from INTEGER  first round seq, inclusive (NULL: no lower bound)
--   $round_to INTEGER  last round seq, inclusive (NULL: no upper bound)
--   $kinds VARCHAR[]  round kinds (NULL: all)
--   $sectors VARCHAR[]  unit sectors (NULL: all)
--   $peer_groups VARCHAR[]  unit peer groups (NULL: all)
--   $unit_ids INTEGER[]  units (NULL: all)
-- columns:
--   inspection_id INTEGER  inspection in scope
--   round_id INTEGER  its round
--   unit_id INTEGER  its unit
SELECT i.inspection_id, i.round_id, i.unit_id
FROM inspections i
JOIN rounds r ON r.round_id = i.round_id
JOIN units u ON u.unit_id = i.unit_id
WHERE ($round_from::INTEGER IS NULL OR r.seq >= $round_from)
  AND ($round_to::INTEGER IS NULL OR r.seq <= $round_to)
  AND ($kinds::VARCHAR[] IS NULL OR r.kind IN (SELECT unnest($kinds::VARCHAR[])))
  AND ($sectors::VARCHAR[] IS NULL OR u.sector IN (SELECT unnest($sectors::VARCHAR[])))
  AND ($peer_groups::VARCHAR[] IS NULL OR u.peer_group IN (SELECT unnest($peer_groups::VARCHAR[])))
  AND ($unit_ids::INTEGER[] IS NULL OR i.unit_id IN (SELECT unnest($unit_ids::INTEGER[])))
ORDER BY i.inspection_id
