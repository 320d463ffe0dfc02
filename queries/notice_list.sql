-- name: notice_list
-- returns: the 预警提醒 and 督办函 issued, newest first, with their unit, recipients (JSON) and the measures they list; xuncha.rectify.notices.notices_for narrows them to what one user may see
-- grain: one row per notice_id
-- params:
--   $unit_ids INTEGER[]  units whose notices are listed (NULL: every unit)
--   $since DATE  notices issued on or after this date (NULL: every date)
-- columns:
--   notice_id INTEGER  notice
--   kind VARCHAR  预警提醒 or 督办函
--   doc_number VARCHAR  文号, e.g. 巡察督办〔2026〕5号
--   year INTEGER  year of the numbering
--   number INTEGER  number within the kind and year
--   issued_on DATE  发文日期
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit (full name)
--   unit_short_name VARCHAR  unit (short name)
--   recipients VARCHAR  recipients as JSON: name, position, email, account
--   measures BIGINT  measures listed
--   colours VARCHAR[]  warning colours of the measures listed
--   measure_ids INTEGER[]  the measures listed
--   file_sha256 VARCHAR  SHA-256 of the archived .docx (before sealing)
--   issued_by VARCHAR  account that issued it (the daily job: system)
--   issued_at TIMESTAMP  when it was generated
WITH items AS (
    SELECT notice_id, count(*) AS measures, list(DISTINCT colour ORDER BY colour) AS colours,
           list(measure_id ORDER BY measure_id) AS measure_ids
    FROM notice_items
    GROUP BY ALL
)
SELECT n.notice_id, n.kind, n.doc_number, n.year, n.number, n.issued_on, n.unit_id,
       u.name AS unit_name, u.short_name AS unit_short_name, n.recipients,
       coalesce(i.measures, 0) AS measures, coalesce(i.colours, []::VARCHAR[]) AS colours,
       coalesce(i.measure_ids, []::INTEGER[]) AS measure_ids, n.file_sha256, n.issued_by,
       n.issued_at
FROM notices n
JOIN units u ON u.unit_id = n.unit_id
LEFT JOIN items i ON i.notice_id = n.notice_id
WHERE ($unit_ids IS NULL OR n.unit_id IN (SELECT unnest($unit_ids::INTEGER[])))
  AND ($since IS NULL OR n.issued_on >= $since::DATE)
ORDER BY n.issued_on DESC, n.notice_id DESC
