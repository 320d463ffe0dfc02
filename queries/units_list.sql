-- name: units_list
-- returns: every unit with its sector and peer group, for filters and labels
-- grain: one row per unit_id
-- params:
-- columns:
--   unit_id INTEGER  unit
--   name VARCHAR  full name
--   short_name VARCHAR  short name
--   sector VARCHAR  sector
--   peer_group VARCHAR  peer group
--   inspections BIGINT  times inspected
SELECT u.unit_id, u.name, u.short_name, u.sector, u.peer_group,
       count(i.inspection_id) AS inspections
FROM units u
LEFT JOIN inspections i ON i.unit_id = u.unit_id
GROUP BY ALL
ORDER BY u.peer_group, u.unit_id
