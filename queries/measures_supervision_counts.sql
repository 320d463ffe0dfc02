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
-- Open measures with a dated deadline, as (deadline, how many): on or after settled_on from
-- rect_current_dates (exactly the rows the 督办清单 lists), else from the timeline.
SELECT coalesce(sum(n) FILTER (WHERE warning_colour(deadline, $as_of) = '红'), 0)::BIGINT AS red,
       coalesce(sum(n) FILTER (WHERE warning_colour(deadline, $as_of) = '黄'), 0)::BIGINT AS yellow,
       coalesce(sum(n) FILTER (WHERE warning_colour(deadline, $as_of) = '绿'), 0)::BIGINT AS green,
       coalesce(sum(n) FILTER (WHERE warning_colour(deadline, $as_of) = ''), 0)::BIGINT AS normal
FROM open_deadlines_at($as_of, $current, $inspection_ids, $category_l1, $category_l2)
