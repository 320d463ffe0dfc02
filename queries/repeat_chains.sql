-- name: repeat_chains
-- returns: for each unit and level-2 category found in two or more rounds, the chain of rounds in which it was found, with 反弹 (found again after it was closed) marked
-- grain: one row per unit_id, category_l2
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
-- columns:
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit short name
--   peer_group VARCHAR  its peer group
--   category_l2 VARCHAR  level-2 category
--   l2_name VARCHAR  level-2 name
--   round_count BIGINT  rounds in which the category was found at the unit
--   chain VARCHAR  the rounds in order, 反弹 marked
--   findings BIGINT  findings in the chain
--   rebound_rounds BIGINT  rounds in which it came back after closure
--   open_findings BIGINT  findings of the chain not DONE as of the date
--   finding_ids INTEGER[]  the findings (for drill-down)
WITH t AS (
    SELECT t.*
    FROM finding_timeline t
    WHERE ($inspection_ids::INTEGER[] IS NULL OR t.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND ($category_l1::VARCHAR[] IS NULL OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
      AND t.valid_from <= $as_of::DATE AND (t.valid_to IS NULL OR t.valid_to > $as_of::DATE)
      AND t.category_l2 IS NOT NULL
),
per_round AS (
    SELECT t.unit_id, t.category_l2, r.seq,
           coalesce(r.term, '') || coalesce(nullif(regexp_extract(r.name, '第.+?轮'), ''), r.name) AS label,
           count(*) AS findings,
           bool_or(t.is_rebound) AS rebound,
           count(*) FILTER (WHERE t.status <> 'DONE') AS open_findings,
           list(t.finding_id ORDER BY t.finding_id) AS ids
    FROM t JOIN rounds r ON r.round_id = t.round_id
    GROUP BY ALL
)
SELECT p.unit_id, u.short_name AS unit_name, u.peer_group, p.category_l2, c.name AS l2_name,
       count(*) AS round_count,
       string_agg(CASE WHEN p.rebound THEN p.label || '（反弹）' ELSE p.label END, ' → '
                  ORDER BY p.seq) AS chain,
       sum(p.findings)::BIGINT AS findings,
       count(*) FILTER (WHERE p.rebound) AS rebound_rounds,
       sum(p.open_findings)::BIGINT AS open_findings,
       flatten(list(p.ids ORDER BY p.seq))::INTEGER[] AS finding_ids
FROM per_round p
JOIN units u ON u.unit_id = p.unit_id
JOIN category_l2 c ON c.code = p.category_l2
GROUP BY p.unit_id, u.short_name, u.peer_group, p.category_l2, c.name
HAVING count(*) >= 2
ORDER BY rebound_rounds DESC, round_count DESC, findings DESC, p.unit_id, p.category_l2
