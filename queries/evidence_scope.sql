-- name: evidence_scope
-- returns: whether an evidence file is attached to a submission of a unit and round in scope, with the name it was first attached with there, its type and size (the scope check before an evidence file is read)
-- grain: one row
-- params:
--   $sha256 VARCHAR  the file's SHA-256 (lowercase hex)
--   $unit_ids INTEGER[]  units in scope (NULL: all)
--   $round_ids INTEGER[]  rounds in scope (NULL: all)
-- columns:
--   attached BIGINT  attachments in scope (0: no such file, or none the scope may see)
--   file_name VARCHAR  the name of its first attachment in scope
--   media_type VARCHAR  MIME type
--   file_kind VARCHAR  PDF/图片/Word/Excel
--   size BIGINT  bytes
SELECT count(*) AS attached,
       arg_min(se.file_name, se.submission_id::BIGINT * 1000000 + se.position) AS file_name,
       max(f.media_type) AS media_type, max(f.file_kind) AS file_kind, max(f.size) AS size
FROM submission_evidence se
JOIN rectify_submissions s ON s.submission_id = se.submission_id
JOIN evidence_files f ON f.sha256 = se.sha256
WHERE se.sha256 = $sha256
  AND ($unit_ids::INTEGER[] IS NULL OR s.unit_id IN (SELECT unnest($unit_ids::INTEGER[])))
  AND ($round_ids::INTEGER[] IS NULL OR s.round_id IN (SELECT unnest($round_ids::INTEGER[])))
