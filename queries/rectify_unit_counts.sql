-- name: rectify_unit_counts
-- returns: the online rectification counts of each unit as of a date: done claims awaiting review or 销号, returns and review decisions, closures and the days from submission to 销号
-- grain: one row per unit_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection)
--   $as_of DATE  the date asked: only steps dated on or before it count
-- columns:
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit (short name)
--   submitted BIGINT  done claims submitted
--   pending_review BIGINT  done claims awaiting review (待审核) on the date
--   pending_close BIGINT  done claims passed and awaiting 销号 (待销号) on the date
--   returns BIGINT  returns (退回次数): done claims sent back by a reviewer or the approver
--   decisions BIGINT  review decisions (passes and returns): the denominator of 退回率
--   closed BIGINT  done claims closed (已销号)
--   close_days_median DOUBLE  median days from the submission of a closed claim to its 销号
-- One pass over the steps: each submission's state on the date with its returns and review
-- decisions, then summed per unit (no per-unit subquery over the steps).
WITH steps AS (
    SELECT st.submission_id, st.step_id, st.step, st.state, st.step_date, s.unit_id,
           s.submitted_on
    FROM rectify_steps st
    JOIN rectify_submissions s USING (submission_id)
    WHERE s.kind = 'done' AND st.step_date <= $as_of::DATE
      AND in_inspections(s.inspection_id, $inspection_ids)
),
state_on AS (
    SELECT submission_id, unit_id, arg_max(state, step_id) AS state,
           max(step_date) FILTER (WHERE step = 'close') - min(submitted_on) AS close_days,
           count(*) FILTER (WHERE step = 'return') AS returns,
           count(*) FILTER (WHERE step IN ('pass', 'return')) AS decisions
    FROM steps GROUP BY ALL
)
SELECT u.unit_id, u.short_name AS unit_name,
       count(*) AS submitted,
       count(*) FILTER (WHERE so.state = 'pending_review') AS pending_review,
       count(*) FILTER (WHERE so.state = 'pending_close') AS pending_close,
       sum(so.returns)::BIGINT AS returns,
       sum(so.decisions)::BIGINT AS decisions,
       count(*) FILTER (WHERE so.state = 'closed') AS closed,
       median(so.close_days) FILTER (WHERE so.state = 'closed') AS close_days_median
FROM state_on so
JOIN units u ON u.unit_id = so.unit_id
GROUP BY ALL
ORDER BY u.unit_id
