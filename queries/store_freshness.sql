-- name: store_freshness
-- returns: how fresh the data version is, for the whole store (not a scope): the latest date of a recorded event (a measure's status change, a step of online rectification, an inspection's feedback) and the time of the latest write (an import batch of any kind: ledger, online step, rollback, demo)
-- grain: one row
-- params:
-- columns:
--   data_through DATE  the latest status, step or feedback date held (NULL for an empty store)
--   last_import TIMESTAMP  when the latest batch was written, the server's local wall time (NULL when none)
-- The page header shows both beside 统计截至 (数据更新至 …，最近导入 …).
SELECT
    greatest(
        (SELECT max(status_date) FROM measure_status_history),
        (SELECT max(step_date) FROM rectify_steps),
        (SELECT max(feedback_date) FROM inspections)
    ) AS data_through,
    (SELECT max(created_at) FROM import_batches) AS last_import
