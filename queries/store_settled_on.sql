-- name: store_settled_on
-- returns: the date from which the current-state summaries (rect_current*) hold: the last date at which any status or deadline interval starts or ends (NULL for a store built before they existed)
-- grain: one row
-- params:
-- columns:
--   settled_on DATE  figures asked as of this date or later may read rect_current*
SELECT (SELECT try_cast(value AS DATE) FROM store_meta WHERE key = 'settled_on') AS settled_on
