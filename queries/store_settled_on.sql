-- name: store_settled_on
-- returns: the date from which the current-state summaries (rect_current*) hold: the last date at which any status or deadline interval starts or ends (NULL for a store whose summaries are missing or older than this code: the next write rebuilds them)
-- grain: one row
-- params:
-- columns:
--   settled_on DATE  figures asked as of this date or later may read rect_current*
-- current_layout names the layout of rect_current* this code reads (2: with the tag-group
-- counts; 3: with rect_current_measures; 4: with rect_current_groups; 7: with
-- inspection_settled; 10: with curve_cells; 11: with chain_text); a store written by
-- older code has another or none until its next write.
SELECT CASE
    WHEN (SELECT value FROM store_meta WHERE key = 'current_layout') = '11'
    THEN (SELECT try_cast(value AS DATE) FROM store_meta WHERE key = 'settled_on')
END AS settled_on
