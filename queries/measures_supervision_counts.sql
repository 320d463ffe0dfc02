-- name: measures_supervision_counts
-- returns: how many rows the 督办清单 (measures_supervision) holds of each warning colour as of a date: open measures with a dated deadline, by how far the deadline is from the date
-- grain: one row
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date of the list
--   $current BOOLEAN  as_of is on or after the store's settled_on: count from the current-state summary rect_current_dates
-- columns:
--   red BIGINT  红: the deadline is before the date (overdue)
--   yellow BIGINT  黄: the deadline is on the date or at most 10 days after it
--   green BIGINT  绿: the deadline is 11 to 20 days after the date
--   normal BIGINT  no colour: the deadline is more than 20 days after the date
WITH open AS (
    -- Open measures with a dated deadline, as (deadline, how many). rect_current_dates counts
    -- the timeline's open rows (valid_to IS NULL) with status <> 'DONE' and a deadline,
    -- LONG_TERM ones included, by inspection, category and deadline: on or after settled_on
    -- exactly the rows the 督办清单 lists. DuckDB drops the branch whose $current test is false.
    SELECT d.d AS deadline, d.open_measures AS n
    FROM rect_current_dates d
    WHERE $current
      AND ($inspection_ids::INTEGER[] IS NULL OR d.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND ($category_l1::VARCHAR[] IS NULL OR d.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR d.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
    UNION ALL
    SELECT t.deadline, 1
    FROM measure_timeline t
    WHERE NOT $current
      AND ($inspection_ids::INTEGER[] IS NULL OR t.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND ($category_l1::VARCHAR[] IS NULL OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
      AND t.valid_from <= $as_of::DATE AND (t.valid_to IS NULL OR t.valid_to > $as_of::DATE)
      AND t.status <> 'DONE' AND t.deadline IS NOT NULL
)
SELECT coalesce(sum(n) FILTER (WHERE deadline < $as_of::DATE), 0)::BIGINT AS red,
       coalesce(sum(n) FILTER (WHERE deadline >= $as_of::DATE
                                 AND deadline - $as_of::DATE <= 10), 0)::BIGINT AS yellow,
       coalesce(sum(n) FILTER (WHERE deadline - $as_of::DATE > 10
                                 AND deadline - $as_of::DATE <= 20), 0)::BIGINT AS green,
       coalesce(sum(n) FILTER (WHERE deadline - $as_of::DATE > 20), 0)::BIGINT AS normal
FROM open
