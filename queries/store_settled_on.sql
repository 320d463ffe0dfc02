-- name: store_settled_on
-- returns: the date from which the current-state summaries (rect_current*) hold: the last date at which any status or deadline interval starts or ends (NULL for a store whose summaries are missing or older than this code: the next write rebuilds them)
-- grain: one row
-- params:
-- columns:
--   settled_on DATE  figures asked as of this date or later may read rect_current*
SELECT CASE
    WHEN (SELECT count(*) FROM duckdb_tables()
          WHERE schema_name = 'main'
            AND table_name IN ('rect_current', 'rect_current_dates', 'rect_current_done')) = 3
    THEN (SELECT try_cast(value AS DATE) FROM store_meta WHERE key = 'settled_on')
END AS settled_on
