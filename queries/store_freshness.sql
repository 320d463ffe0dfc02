-- name: store_freshness
-- returns: how fresh the data of a scope are: the latest date of a recorded event in the scope's inspections (a measure's status change, a step of online rectification, an inspection's feedback) and the time of the latest write (an import batch of any kind: ledger, online step, rollback, demo)
-- grain: one row
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
-- columns:
--   data_through DATE  the latest status, step or feedback date held in the scope (NULL when none)
--   last_import TIMESTAMP  when the latest batch was written, the server's local wall time (NULL when none)
-- From inspection_latest, kept at every write (xuncha/store/sql/settled.sql).
-- The page header shows both beside 统计截至 (数据更新至 …，最近导入 …). A scoped reader learns
-- nothing of other units' activity from the first; the second is when the store was written.
SELECT
    (
        SELECT max(data_through)
        FROM inspection_latest
        WHERE in_inspections(inspection_id, $inspection_ids)
    ) AS data_through,
    (SELECT max(created_at) FROM import_batches) AS last_import
