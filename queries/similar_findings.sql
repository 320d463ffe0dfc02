-- name: similar_findings
-- returns: suggestions of findings of the same unit in different rounds whose text is close (Jaccard similarity of character bigrams of 具体问题 + 具体表现) although filed under different level-2 categories; suggestions only, never merged
-- grain: one row per finding_a, finding_b
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  the date asked
--   $unit_id INTEGER  only this unit (NULL: every unit in scope)
--   $min_similarity DOUBLE  least similarity, 0–1
--   $limit INTEGER  how many pairs at most
-- columns:
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit short name
--   finding_a INTEGER  the earlier finding
--   round_a VARCHAR  its round
--   category_a VARCHAR  its level-2 category
--   title_a VARCHAR  its 具体问题
--   finding_b INTEGER  the later finding
--   round_b VARCHAR  its round
--   category_b VARCHAR  its level-2 category
--   title_b VARCHAR  its 具体问题
--   similarity DOUBLE  Jaccard similarity of character bigrams, 0–1, three decimals
WITH f AS (
    SELECT t.finding_id, t.unit_id, r.seq, r.name AS round_name, t.category_l2, fi.title,
           regexp_replace(fi.title || coalesce(fi.detail, ''), '[\s\pZ\pP\pS\pN]', '', 'g') AS txt
    FROM finding_at($as_of, $inspection_ids, NULL, NULL) t
    JOIN findings fi ON fi.finding_id = t.finding_id
    JOIN rounds r ON r.round_id = t.round_id
    WHERE ($unit_id::INTEGER IS NULL OR t.unit_id = $unit_id)
),
-- An inverted index of character bigrams: pairs are found through shared bigrams, so only
-- pairs that share something are ever compared.
grams AS (
    SELECT DISTINCT finding_id, unit_id,
           unnest(list_transform(range(greatest(length(txt) - 1, 0)),
                                 lambda i: substr(txt, i + 1, 2))) AS gram
    FROM f
),
sizes AS (
    SELECT finding_id, count(*) AS n FROM grams GROUP BY finding_id
),
shared AS (
    SELECT a.finding_id AS fa, b.finding_id AS fb, count(*) AS common
    FROM grams a
    JOIN grams b ON a.unit_id = b.unit_id AND a.gram = b.gram AND a.finding_id < b.finding_id
    GROUP BY ALL
),
pairs AS (
    SELECT x.unit_id,
           CASE WHEN x.seq < y.seq THEN x.finding_id ELSE y.finding_id END AS finding_a,
           CASE WHEN x.seq < y.seq THEN y.finding_id ELSE x.finding_id END AS finding_b,
           s.common::DOUBLE / (sa.n + sb.n - s.common) AS similarity
    FROM shared s
    JOIN f x ON x.finding_id = s.fa
    JOIN f y ON y.finding_id = s.fb
    JOIN sizes sa ON sa.finding_id = s.fa
    JOIN sizes sb ON sb.finding_id = s.fb
    WHERE x.seq <> y.seq AND x.category_l2 IS DISTINCT FROM y.category_l2
)
SELECT p.unit_id, u.short_name AS unit_name, p.finding_a, a.round_name AS round_a,
       a.category_l2 AS category_a, a.title AS title_a, p.finding_b, b.round_name AS round_b,
       b.category_l2 AS category_b, b.title AS title_b, round(p.similarity, 3) AS similarity
FROM pairs p
JOIN units u ON u.unit_id = p.unit_id
JOIN f a ON a.finding_id = p.finding_a
JOIN f b ON b.finding_id = p.finding_b
WHERE p.similarity >= $min_similarity::DOUBLE
ORDER BY p.similarity DESC, p.finding_a, p.finding_b
LIMIT $limit
