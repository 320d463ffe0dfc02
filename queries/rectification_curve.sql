-- name: rectification_curve
-- returns: the progress curve of each round over its complete cohort: of the round's findings fed back by the as-of date, those DONE (and BASICALLY_DONE) on each day since their 反馈日期, up to the day the round's last-fed-back findings have reached
-- grain: one row per round_id, day
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked; no day after it is counted
--   $current BOOLEAN  as_of is on or after the store's settled_on (every inspection settled: the timelines are not read)
--   $step INTEGER  days between points of the curve
-- columns:
--   round_id INTEGER  round
--   round_name VARCHAR  round name
--   seq INTEGER  round order
--   day INTEGER  days since 反馈日期: 0, $step, 2·$step, … and the round's last day
--   findings BIGINT  the round's findings fed back by the as-of date (the same on every day)
--   findings_done BIGINT  of those, DONE on their 反馈日期 + day
--   findings_basically_done BIGINT  of those, BASICALLY_DONE on their 反馈日期 + day
-- The cohort is complete on every point: a round's curve stops at the day its last-fed-back
-- findings have reached by the as-of date (as-of date − the latest 反馈日期 among its findings),
-- so every finding of the round is in the denominator on every day and the curve only falls
-- where a finding really left DONE (BASICALLY_DONE). Drawing further would leave only the
-- findings fed back earliest in the denominator, and their mix would read as a false drop.
-- Counting is by difference arrays over days since 反馈日期 (curve_deltas_at: summed at write
-- time per inspection × category × day for the inspections settled by the date, from the
-- timeline for those still changing on it), not by a day × finding grid.
WITH g AS (
    -- One pass over the rows: per round (the cohort: its findings and latest 反馈日期) and per
    -- round and day (the deltas).
    SELECT round_id, day, grouping(day) AS whole, sum(findings) AS findings,
           max(feedback_date) FILTER (WHERE findings > 0) AS last_feedback,
           sum(d_done) AS d_done, sum(d_basic) AS d_basic
    FROM curve_deltas_at($as_of, $current, $inspection_ids, $category_l1, $category_l2)
    GROUP BY GROUPING SETS ((round_id), (round_id, day))
),
span AS (
    -- The round's cohort and the last day all of it has been observed.
    SELECT round_id, findings, $as_of::DATE - last_feedback AS last_day
    FROM g WHERE whole = 1 AND findings > 0
),
per_day AS (
    -- The zero row on day 0 starts every round's running sums.
    SELECT round_id, day, sum(d_done) AS d_done, sum(d_basic) AS d_basic
    FROM (
        SELECT round_id, 0 AS day, 0 AS d_done, 0 AS d_basic FROM span
        UNION ALL
        SELECT round_id, day, d_done, d_basic FROM g
        WHERE whole = 0 AND (d_done <> 0 OR d_basic <> 0)
    )
    GROUP BY ALL
),
running AS (
    SELECT round_id, day,
           sum(d_done) OVER w AS findings_done,
           sum(d_basic) OVER w AS findings_basically_done
    FROM per_day
    WINDOW w AS (PARTITION BY round_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
grid AS (
    SELECT s.round_id, unnest(generate_series(0, s.last_day, greatest($step, 1))) AS day
    FROM span s
    UNION
    SELECT s.round_id, s.last_day FROM span s
)
SELECT g.round_id, r.name AS round_name, r.seq, g.day::INTEGER AS day,
       s.findings::BIGINT AS findings, r2.findings_done::BIGINT AS findings_done,
       r2.findings_basically_done::BIGINT AS findings_basically_done
FROM grid g
ASOF JOIN running r2 ON g.round_id = r2.round_id AND g.day >= r2.day
JOIN span s ON s.round_id = g.round_id
JOIN rounds r ON r.round_id = g.round_id
ORDER BY r.seq, g.day
