-- name: rectify_measures
-- returns: the measures a unit reports on, with their state today: status and deadlines, warning colour, the open done claim or extension request and the last return
-- grain: one row per measure_id
-- params:
--   $inspection_ids INTEGER[]  inspections the reader may see (NULL: every inspection)
--   $as_of DATE  today (for the warning colour and days left)
--   $open_only BOOLEAN  only measures not yet DONE
-- columns:
--   measure_id INTEGER  measure
--   finding_id INTEGER  its finding
--   inspection_id INTEGER  its inspection
--   round_name VARCHAR  round
--   unit_name VARCHAR  unit (short name)
--   ledger_seq VARCHAR  序号 in the ledger
--   category_l2 VARCHAR  level-2 category
--   title VARCHAR  具体问题
--   measure_text VARCHAR  整改措施
--   lead_person VARCHAR  责任领导
--   department VARCHAR  责任部门
--   person VARCHAR  责任人
--   status VARCHAR  current status
--   deadline_original DATE  original deadline
--   deadline_current DATE  current deadline
--   days_left INTEGER  days from today to the current deadline (negative: overdue)
--   warning VARCHAR  红, 黄, 绿 or empty (DOMAIN.md §5)
--   progress VARCHAR  latest 整改进展
--   done_submission_id INTEGER  the open done claim (NULL: none)
--   done_state VARCHAR  its state: pending_review or pending_close
--   extension_submission_id INTEGER  the pending extension request (NULL: none)
--   proposed_deadline DATE  the deadline it asks for
--   last_return_reason VARCHAR  reason of the last return of a done claim (NULL: never returned)
--   returns BIGINT  returns on this measure so far
WITH last AS (
    SELECT submission_id, arg_max(state, step_id) AS state,
           arg_max(reason, step_id) FILTER (WHERE step = 'return') AS return_reason,
           max(step_id) FILTER (WHERE step = 'return') AS return_step
    FROM rectify_steps GROUP BY ALL
),
subs AS (
    SELECT s.measure_id, s.submission_id, s.kind, s.proposed_deadline, l.*
    FROM rectify_submissions s JOIN last l USING (submission_id)
),
per_measure AS (
    SELECT measure_id,
           max(submission_id) FILTER (WHERE kind = 'done'
                                      AND state IN ('pending_review', 'pending_close'))
               AS done_submission_id,
           max(submission_id) FILTER (WHERE kind = 'extension' AND state = 'extension_pending')
               AS extension_submission_id,
           arg_max(return_reason, return_step) AS last_return_reason,
           count(return_step) AS returns
    FROM subs GROUP BY ALL
)
SELECT m.measure_id, m.finding_id, f.inspection_id, r.name AS round_name,
       u.short_name AS unit_name, f.ledger_seq, f.category_l2, f.title,
       m.text AS measure_text, m.lead_person, m.department, m.person, m.status,
       m.deadline_original, m.deadline_current,
       CASE WHEN m.status <> 'DONE' THEN (m.deadline_current - $as_of::DATE)::INTEGER END
           AS days_left,
       CASE WHEN m.status <> 'DONE' AND m.deadline_current IS NOT NULL
            THEN warning_colour(m.deadline_current, $as_of) ELSE '' END AS warning,
       m.progress, p.done_submission_id, d.state AS done_state, p.extension_submission_id,
       e.proposed_deadline, p.last_return_reason, coalesce(p.returns, 0) AS returns
FROM measures m
JOIN findings f ON f.finding_id = m.finding_id
JOIN units u ON u.unit_id = f.unit_id
JOIN rounds r ON r.round_id = f.round_id
LEFT JOIN per_measure p ON p.measure_id = m.measure_id
LEFT JOIN subs d ON d.submission_id = p.done_submission_id
LEFT JOIN subs e ON e.submission_id = p.extension_submission_id
WHERE in_inspections(f.inspection_id, $inspection_ids)
  AND (NOT $open_only OR m.status <> 'DONE')
ORDER BY r.seq, u.short_name, f.finding_id, m.ledger_order, m.measure_id
