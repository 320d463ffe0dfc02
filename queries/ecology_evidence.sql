-- name: ecology_evidence
-- returns: the rows behind each political-ecology indicator of DOMAIN.md §6, per unit: the ids of the findings, measures, clues or inspections that lower it (or, for 建章立制, lift it), as of a date; fourth_form lists the clues behind the 第四种形态 cap (clue ids are for case roles only: DOMAIN.md §7)
-- grain: one row per unit_id, indicator
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date asked
--   $unit_id INTEGER  one unit (NULL: every unit)
-- columns:
--   unit_id INTEGER  unit
--   indicator VARCHAR  indicator key (share_l1_a, focus_findings, four_winds_findings, personnel_findings, completion_rate, on_time_rate, overdue_rate, clue_density, heavier_forms, repeat_rate, rebound_rate, regulations_per_finding) or fourth_form
--   id_kind VARCHAR  what the ids are: finding, measure, clue or inspection
--   ids INTEGER[]  the ids, ascending
--   id_count BIGINT  how many
WITH i AS (
    SELECT i.inspection_id, i.unit_id
    FROM inspections i
    WHERE in_inspections(i.inspection_id, $inspection_ids)
      AND i.feedback_date <= $as_of::DATE
      AND ($unit_id::INTEGER IS NULL OR i.unit_id = $unit_id::INTEGER)
),
g AS (
    SELECT list(tag) FILTER (WHERE tag_group = '重点关注') AS focus,
           list(tag) FILTER (WHERE tag_group = '四风') AS four_winds,
           list(tag) FILTER (WHERE tag_group = '选人用人') AS personnel
    FROM tag_dictionary
),
f AS (
    SELECT t.finding_id, t.unit_id, t.category_l1, t.status, t.is_repeat, t.is_rebound, x.tags
    FROM finding_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    JOIN findings x ON x.finding_id = t.finding_id
    WHERE t.inspection_id IN (SELECT inspection_id FROM i)
),
m AS (
    SELECT t.measure_id, t.unit_id, t.status, t.deadline, t.on_time_original
    FROM measure_at($as_of, $inspection_ids, $category_l1, $category_l2) t
    WHERE t.inspection_id IN (SELECT inspection_id FROM i)
),
c AS (
    SELECT c.clue_id, i.unit_id,
           c.form IN ('第三种形态', '第四种形态')
               AND (c.closed_on IS NULL OR c.closed_on <= $as_of::DATE) AS heavier,
           c.form = '第四种形态'
               AND (c.closed_on IS NULL OR c.closed_on <= $as_of::DATE) AS fourth
    FROM clues c JOIN i ON i.inspection_id = c.inspection_id
),
items AS (
    SELECT unit_id, 'share_l1_a' AS indicator, 'finding' AS id_kind, finding_id AS id
    FROM f WHERE category_l1 = 'A'
    UNION ALL
    SELECT f.unit_id, 'focus_findings', 'finding', f.finding_id
    FROM f CROSS JOIN g WHERE list_has_any(f.tags, g.focus)
    UNION ALL
    SELECT f.unit_id, 'four_winds_findings', 'finding', f.finding_id
    FROM f CROSS JOIN g WHERE list_has_any(f.tags, g.four_winds)
    UNION ALL
    SELECT f.unit_id, 'personnel_findings', 'finding', f.finding_id
    FROM f CROSS JOIN g WHERE list_has_any(f.tags, g.personnel)
    UNION ALL
    SELECT unit_id, 'completion_rate', 'finding', finding_id FROM f WHERE status <> 'DONE'
    UNION ALL
    SELECT unit_id, 'repeat_rate', 'finding', finding_id FROM f WHERE is_repeat
    UNION ALL
    SELECT unit_id, 'rebound_rate', 'finding', finding_id FROM f WHERE is_rebound
    UNION ALL
    SELECT unit_id, 'on_time_rate', 'measure', measure_id
    FROM m WHERE status = 'DONE' AND NOT on_time_original
    UNION ALL
    SELECT unit_id, 'overdue_rate', 'measure', measure_id
    FROM m WHERE status <> 'DONE' AND deadline < $as_of::DATE
    UNION ALL
    SELECT unit_id, 'clue_density', 'clue', clue_id FROM c
    UNION ALL
    SELECT unit_id, 'heavier_forms', 'clue', clue_id FROM c WHERE heavier
    UNION ALL
    SELECT unit_id, 'fourth_form', 'clue', clue_id FROM c WHERE fourth
    UNION ALL
    SELECT i.unit_id, 'regulations_per_finding', 'inspection', o.inspection_id
    FROM outcomes o JOIN i ON i.inspection_id = o.inspection_id
    WHERE o.regulations > 0
)
SELECT unit_id::INTEGER AS unit_id, indicator, any_value(id_kind) AS id_kind,
       list(id ORDER BY id)::INTEGER[] AS ids, count(*) AS id_count
FROM items
GROUP BY unit_id, indicator
ORDER BY unit_id, indicator
