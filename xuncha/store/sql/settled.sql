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

-- The latest dated event held for each inspection: a measure's status record, a step of online
-- rectification, its feedback (queries/store_freshness.sql: the header's 数据更新至 over a
-- reader's own inspections, read on every page, so kept here rather than joining the whole
-- status history on every run). One row per inspection.
CREATE OR REPLACE TABLE inspection_latest AS
WITH events AS (
    SELECT f.inspection_id, max(h.status_date) AS d
    FROM measure_status_history h
    JOIN measures m USING (measure_id)
    JOIN findings f USING (finding_id)
    GROUP BY f.inspection_id
    UNION ALL
    SELECT f.inspection_id, max(s.step_date)
    FROM rectify_steps s
    JOIN measures m USING (measure_id)
    JOIN findings f USING (finding_id)
    GROUP BY f.inspection_id
    UNION ALL
    SELECT inspection_id, feedback_date FROM inspections
)
SELECT inspection_id, max(d) AS data_through
FROM events
GROUP BY inspection_id
ORDER BY inspection_id;
