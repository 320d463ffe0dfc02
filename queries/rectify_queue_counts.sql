-- name: rectify_queue_counts
-- returns: how many submissions are in each current state, for the counts in the navigation
-- grain: one row per state
-- params:
--   $inspection_ids INTEGER[]  inspections the reader may see (NULL: every inspection)
-- columns:
--   state VARCHAR  current state
--   submissions BIGINT  submissions in that state
WITH last AS (
    SELECT submission_id, arg_max(state, step_id) AS state FROM rectify_steps GROUP BY ALL
)
SELECT l.state, count(*) AS submissions
FROM rectify_submissions s
JOIN last l USING (submission_id)
WHERE in_inspections(s.inspection_id, $inspection_ids)
GROUP BY ALL
ORDER BY l.state
