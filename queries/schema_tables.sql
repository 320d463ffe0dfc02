-- name: schema_tables
-- returns: the tables of the store with their Chinese comments and estimated sizes (schema browser, xuncha info)
-- grain: one row per table_name
-- params:
-- columns:
--   table_name VARCHAR  table
--   estimated_rows BIGINT  rows as estimated by DuckDB (use count(*) for exact)
--   comment VARCHAR  the table's Chinese comment
SELECT table_name, estimated_size::BIGINT AS estimated_rows, comment
FROM duckdb_tables()
WHERE schema_name = 'main' AND NOT temporary
ORDER BY table_name
