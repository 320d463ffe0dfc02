-- When each inspection's rectification state stops changing (schema.add_current_summaries):
-- one row per inspection. Its state as of a date t is
--   nothing           when t < started_on (no finding of it is in any timeline yet),
--   the open intervals (its rows of the current-state summaries, rect_current*)
--                     when t >= settled_on,
--   the timelines' intervals holding t (finding_timeline, measure_timeline) in between.
-- So a figure as of any date reads the summaries of the inspections settled by then and the
-- timelines of the few active on that date only (DOMAIN.md §5; the store-wide settled_on of
-- store_meta is max(settled_on): the date from which every inspection is settled).
--   started_on  the first day any interval of its findings or measures starts (NULL: it has
--               no finding, so it is never in a timeline)
--   settled_on  the last day any interval of its findings or measures starts or ends
CREATE OR REPLACE TABLE inspection_settled AS
WITH spans AS (
    SELECT inspection_id, min(valid_from) AS started_on,
           max(coalesce(valid_to, valid_from)) AS settled_on
    FROM finding_timeline GROUP BY inspection_id
    UNION ALL
    SELECT inspection_id, min(valid_from), max(coalesce(valid_to, valid_from))
    FROM measure_timeline GROUP BY inspection_id
)
SELECT i.inspection_id, min(s.started_on) AS started_on, max(s.settled_on) AS settled_on
FROM inspections i
LEFT JOIN spans s ON s.inspection_id = i.inspection_id
GROUP BY i.inspection_id
ORDER BY i.inspection_id;
