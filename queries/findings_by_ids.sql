-- name: findings_by_ids
-- returns: the given findings (the ones behind a clicked figure) that are in scope, with status as of a date, in the listing's order
-- grain: one row per finding_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $finding_ids INTEGER[]  the findings asked for
-- columns:
--   finding_id INTEGER  finding
--   round_name VARCHAR  round
--   unit_name VARCHAR  unit short name
--   unit_id INTEGER  unit (for the link to its page)
--   category_l1 VARCHAR  level-1 code
--   category_l2 VARCHAR  level-2 code
--   l2_name VARCHAR  level-2 name
--   title VARCHAR  具体问题
--   detail VARCHAR  具体表现
--   severity VARCHAR  severity
--   tags VARCHAR[]  tags
--   status VARCHAR  finding status as of the date (DONE / BASICALLY_DONE / OPEN)
--   measures BIGINT  measures
--   measures_done BIGINT  measures DONE
--   is_repeat BOOLEAN  repeat finding
--   is_rebound BOOLEAN  rebound (反弹)
--   feedback_date DATE  反馈日期
WITH sel AS (
    SELECT t.finding_id, t.round_id, t.unit_id, t.category_l1, t.category_l2, t.status,
           t.measures, t.measures_done, t.is_repeat, t.is_rebound, t.feedback_date
    FROM finding_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    WHERE t.finding_id IN (SELECT unnest($finding_ids::INTEGER[]))
)
SELECT s.finding_id, r.name AS round_name, u.short_name AS unit_name, s.unit_id, s.category_l1,
       s.category_l2, c2.name AS l2_name, f.title, f.detail, f.severity, f.tags, s.status,
       s.measures, s.measures_done, s.is_repeat, s.is_rebound, s.feedback_date
FROM sel s
JOIN findings f ON f.finding_id = s.finding_id
JOIN units u ON u.unit_id = s.unit_id
JOIN rounds r ON r.round_id = s.round_id
LEFT JOIN category_l2 c2 ON c2.code = s.category_l2
ORDER BY r.seq DESC, s.unit_id, s.finding_id
