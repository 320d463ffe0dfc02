-- name: evidence_list
-- returns: the evidence files attached to given submissions, by name and hash (exports list them)
-- grain: one row per submission_id, position
-- params:
--   $submission_ids INTEGER[]  the submissions (already in the caller's scope)
-- columns:
--   submission_id INTEGER  submission
--   file_name VARCHAR  the name the file was attached with
--   sha256 VARCHAR  the file's SHA-256
--   size BIGINT  bytes (NULL if the file was never registered)
--   file_kind VARCHAR  PDF/图片/Word/Excel
--   position INTEGER  its place among the submission's files
SELECT se.submission_id, se.file_name, se.sha256, f.size, f.file_kind, se.position
FROM submission_evidence se
LEFT JOIN evidence_files f ON f.sha256 = se.sha256
WHERE se.submission_id IN (SELECT unnest($submission_ids::INTEGER[]))
ORDER BY se.submission_id, se.position
