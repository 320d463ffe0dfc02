-- name: store_is_demo
-- returns: whether the data version holds generated demo data rather than real ledgers (store_meta 'demo' is 'true'; false when it is missing)
-- grain: one row
-- params:
-- columns:
--   is_demo BOOLEAN  true for the demo generator's data
SELECT coalesce((SELECT value FROM store_meta WHERE key = 'demo') = 'true', false) AS is_demo
