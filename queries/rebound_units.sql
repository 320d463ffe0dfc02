-- name: rebound_units
-- returns: 反弹单位名单: the units with at least one 反弹 finding in scope as of a date (a repeat whose earlier finding of the same unit and level-2 category was DONE by this finding's 反馈日期), with their findings, repeats, 反弹 findings and 反弹率, most 反弹 first; the counts are rectification_counts' by unit
-- grain: one row per unit_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked (统计截至)
-- columns:
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit (short name)
--   sector VARCHAR  sector
--   peer_group VARCHAR  peer group
--   findings BIGINT  findings in scope fed back by the date
--   repeat_findings BIGINT  of those, repeats
--   rebound_findings BIGINT  of those, 反弹
--   rebound_rate DOUBLE  rebound_findings ÷ findings, percent, two decimals
--   l2_name VARCHAR  the names of the level-2 categories of the 反弹 findings, 、-separated
WITH f AS (
    SELECT t.unit_id, c.name AS l2_name, t.is_repeat, t.is_rebound
    FROM finding_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    LEFT JOIN category_l2 c ON c.code = t.category_l2
),
per_unit AS (
    SELECT unit_id,
           count(*) AS findings,
           count(*) FILTER (WHERE is_repeat) AS repeat_findings,
           count(*) FILTER (WHERE is_rebound) AS rebound_findings,
           string_agg(DISTINCT l2_name, '、' ORDER BY l2_name)
               FILTER (WHERE is_rebound) AS l2_name
    FROM f GROUP BY unit_id
)
SELECT p.unit_id, u.short_name AS unit_name, u.sector, u.peer_group,
       p.findings, p.repeat_findings, p.rebound_findings,
       round(100.0 * p.rebound_findings / p.findings, 2)::DOUBLE AS rebound_rate,
       p.l2_name
FROM per_unit p
JOIN units u ON u.unit_id = p.unit_id
WHERE p.rebound_findings > 0
ORDER BY p.rebound_findings DESC, rebound_rate DESC, u.short_name
