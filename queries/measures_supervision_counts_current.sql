-- name: measures_supervision_counts_current
-- returns: the same counts as measures_supervision_counts, read from the current-state summary rect_current_dates; valid only for dates on or after store_meta.settled_on, which the page checks (Scope.current) before choosing it
-- grain: one row
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $category_l1 VARCHAR[]  level-1 categories (NULL: all)
--   $category_l2 VARCHAR[]  level-2 categories (NULL: all)
--   $as_of DATE  the date of the list (on or after settled_on)
-- columns:
--   red BIGINT  红: the deadline is before the date (overdue)
--   yellow BIGINT  黄: the deadline is on the date or at most 10 days after it
--   green BIGINT  绿: the deadline is 11 to 20 days after the date
--   normal BIGINT  no colour: the deadline is more than 20 days after the date
-- rect_current_dates.open_measures counts the timeline's open rows (valid_to IS NULL) with
-- status <> 'DONE' and a deadline, LONG_TERM ones included, by inspection, category and
-- deadline: on or after settled_on those are exactly the rows the 督办清单 lists.
SELECT coalesce(sum(d.open_measures) FILTER (WHERE d.d < $as_of::DATE), 0)::BIGINT AS red,
       coalesce(sum(d.open_measures) FILTER (WHERE d.d >= $as_of::DATE
                                               AND d.d - $as_of::DATE <= 10), 0)::BIGINT AS yellow,
       coalesce(sum(d.open_measures) FILTER (WHERE d.d - $as_of::DATE > 10
                                               AND d.d - $as_of::DATE <= 20), 0)::BIGINT AS green,
       coalesce(sum(d.open_measures) FILTER (WHERE d.d - $as_of::DATE > 20), 0)::BIGINT AS normal
FROM rect_current_dates d
WHERE ($inspection_ids::INTEGER[] IS NULL OR d.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
  AND ($category_l1::VARCHAR[] IS NULL OR d.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
  AND ($category_l2::VARCHAR[] IS NULL OR d.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
