-- name: repeat_chains
-- returns: for each unit and level-2 category found in two or more rounds, the chain of rounds in which it was found, with 反弹 (found again after it was closed) marked; the first $limit chains in the order shown (most 反弹 rounds, then most rounds, then most findings), with how many there are in all
-- grain: one row per unit_id, category_l2
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $current BOOLEAN  as_of is on or after the store's settled_on: no inspection is active, the timeline is not read
--   $limit INTEGER  how many chains at most (NULL: all)
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
--   total BIGINT  chains in scope before the limit
--   total_rebound BIGINT  of those, chains with at least one 反弹 round
WITH ins AS (
    -- The inspections in scope (small: one row each; a unit in a round).
    SELECT inspection_id, unit_id, round_id
    FROM inspections
    WHERE in_inspections(inspection_id, $inspection_ids)
),
src AS (
    -- Findings in scope by inspection and level-2 category: the summaries of the inspections
    -- settled by the date (one row per inspection × level-1 × level-2 category, a few hundred
    -- thousand at provincial scale), the timeline of those still active (lists.sql).
    SELECT c.inspection_id, c.unit_id, c.category_l2, c.findings AS findings,
           c.rebound_findings AS rebounds,
           c.findings - c.findings_done AS open_findings
    FROM finding_cells_at($as_of, $current, $inspection_ids, $category_l1, $category_l2) c
    WHERE c.category_l2 IS NOT NULL
      -- (the whole store on or after settled_on reads chain_current, below, but for the
      -- chains spanning level-1 categories when some are chosen)
      AND (NOT ($current AND $inspection_ids IS NULL)
           OR ($category_l1 IS NOT NULL
               AND (c.unit_id, c.category_l2) IN (SELECT unit_id, category_l2 FROM chain_current
                                                  WHERE NOT single_l1)))
),
per_round AS (
    -- One row per inspection and level-2 category: findings, whether any is a 反弹, findings
    -- not DONE. (Sums of INTEGER: DuckDB adds them much faster than BIGINT.)
    SELECT inspection_id, unit_id, category_l2,
           sum(findings)::INTEGER AS findings,
           sum(rebounds) > 0 AS rebound,
           sum(open_findings)::INTEGER AS open_findings
    FROM src
    GROUP BY inspection_id, unit_id, category_l2
),
chains AS (
    -- The figures of every chain first (numbers only); the chain text and the finding list
    -- are built for the chains returned only.
    SELECT p.unit_id, p.category_l2,
           count(*) AS round_count,
           sum(p.findings)::BIGINT AS findings,
           count(*) FILTER (WHERE p.rebound) AS rebound_rounds,
           sum(p.open_findings)::BIGINT AS open_findings
    FROM per_round p
    GROUP BY p.unit_id, p.category_l2
    HAVING count(*) >= 2
    UNION ALL
    -- The whole store on or after its settled_on: the same figures, computed at write time
    -- (lists.sql: chain_current; a chain is one level-2 category, so choosing level-2
    -- categories chooses chains, and level-1 ones too when its findings have one).
    SELECT unit_id, category_l2, round_count, findings, rebound_rounds, open_findings
    FROM chain_current
    WHERE $current AND $inspection_ids IS NULL
      AND in_list(category_l2, $category_l2::VARCHAR[])
      AND ($category_l1::VARCHAR[] IS NULL
           OR (single_l1 AND in_list(category_l1, $category_l1::VARCHAR[])))
),
shown AS (
    SELECT *,
           count(*) OVER () AS total,
           -- (not count(*) FILTER … OVER (): DuckDB 2.0 takes seconds over 80,000 rows)
           count(CASE WHEN rebound_rounds > 0 THEN 1 END) OVER () AS total_rebound
    FROM chains
    ORDER BY rebound_rounds DESC, round_count DESC, findings DESC, unit_id, category_l2
    LIMIT $limit
),
shown_rounds AS (
    -- The rounds of the chains returned with their findings on the date, from the findings
    -- that may stand in a chain (lists.sql: chain_findings, not the timeline).
    SELECT i.unit_id, t.category_l2, i.round_id,
           bool_or(t.is_rebound) AS rebound,
           list(t.finding_id ORDER BY t.finding_id) AS ids
    FROM chain_findings t
    JOIN ins i ON i.inspection_id = t.inspection_id
    SEMI JOIN shown s ON s.unit_id = t.unit_id AND s.category_l2 = t.category_l2
    WHERE (NOT ($current AND $inspection_ids IS NULL)
           OR ($category_l1 IS NOT NULL
               AND (t.unit_id, t.category_l2) IN (SELECT unit_id, category_l2 FROM chain_current
                                                  WHERE NOT single_l1)))
      AND t.first_from <= $as_of::DATE
      AND in_list(t.category_l1, $category_l1::VARCHAR[])
    GROUP BY i.unit_id, t.category_l2, i.round_id
),
texts AS (
    SELECT p.unit_id, p.category_l2,
           chain_text(r.term, r.name, p.rebound, r.seq) AS chain,
           flatten(list(p.ids ORDER BY r.seq)) AS finding_ids
    FROM shown_rounds p
    JOIN rounds r ON r.round_id = p.round_id
    GROUP BY p.unit_id, p.category_l2
    UNION ALL
    -- The whole store on or after its settled_on: built with the chains (chain_current).
    SELECT x.unit_id, x.category_l2, x.chain, x.finding_ids
    FROM chain_current x
    SEMI JOIN shown s ON s.unit_id = x.unit_id AND s.category_l2 = x.category_l2
    WHERE $current AND $inspection_ids IS NULL
      AND ($category_l1::VARCHAR[] IS NULL OR x.single_l1)
      AND x.chain IS NOT NULL
)
SELECT s.unit_id, u.short_name AS unit_name, u.peer_group, s.category_l2, c.name AS l2_name,
       s.round_count, x.chain, s.findings, s.rebound_rounds, s.open_findings,
       x.finding_ids::INTEGER[] AS finding_ids, s.total, s.total_rebound
FROM shown s
JOIN units u ON u.unit_id = s.unit_id
JOIN category_l2 c ON c.code = s.category_l2
JOIN texts x ON x.unit_id = s.unit_id AND x.category_l2 = s.category_l2
ORDER BY s.rebound_rounds DESC, s.round_count DESC, s.findings DESC, s.unit_id, s.category_l2
