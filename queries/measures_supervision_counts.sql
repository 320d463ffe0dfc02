-- name: measures_supervision_counts
-- returns: how many rows the 督办清单 (measures_supervision) holds of each warning colour as of a date: open measures with a dated deadline, by how far the deadline is from the date
-- grain: one row
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date of the list
-- columns:
--   red BIGINT  红: the deadline is before the date (overdue)
--   yellow BIGINT  黄: the deadline is on the date or at most 10 days after it
--   green BIGINT  绿: the deadline is 11 to 20 days after the date
--   normal BIGINT  no colour: the deadline is more than 20 days after the date
-- Counted on the timeline, for any date; measures_supervision_counts_current gives the same
-- counts from the current-state summaries for dates on or after settled_on.
SELECT count(*) FILTER (WHERE t.deadline < $as_of::DATE) AS red,
       count(*) FILTER (WHERE t.deadline >= $as_of::DATE
                          AND t.deadline - $as_of::DATE <= 10) AS yellow,
       count(*) FILTER (WHERE t.deadline - $as_of::DATE > 10
                          AND t.deadline - $as_of::DATE <= 20) AS green,
       count(*) FILTER (WHERE t.deadline - $as_of::DATE > 20) AS normal
FROM measure_timeline t
WHERE ($inspection_ids::INTEGER[] IS NULL OR t.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
  AND ($category_l1::VARCHAR[] IS NULL OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
  AND ($category_l2::VARCHAR[] IS NULL OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
  AND t.valid_from <= $as_of::DATE AND (t.valid_to IS NULL OR t.valid_to > $as_of::DATE)
  AND t.status <> 'DONE' AND t.deadline IS NOT NULL
