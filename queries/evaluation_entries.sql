-- name: evaluation_entries
-- returns: the entries of the 整改成效评估's manual and 一票否决 items made by the date, each with its decision by the date (a decision made later is not known yet) and its evidence files by name and hash
-- grain: one row per entry_id
-- params:
--   $inspection_ids INTEGER[]  inspections in scope (NULL: every inspection of the store)
--   $as_of DATE  the date asked: entries and decisions dated on or before it
-- columns:
--   entry_id INTEGER  entry
--   inspection_id INTEGER  inspection evaluated
--   round_id INTEGER  round
--   unit_id INTEGER  unit
--   unit_name VARCHAR  unit (short name)
--   item VARCHAR  item key (configuration)
--   value DOUBLE  value entered (一票否决: 1 成立, 0 不成立)
--   note VARCHAR  the basis written by the person entering it
--   entered_by VARCHAR  account that entered it
--   entered_at TIMESTAMP  when
--   entered_on DATE  date it takes effect
--   decision VARCHAR  confirm, reject, or NULL (待确认) on the date
--   reason VARCHAR  reason of a rejection
--   decided_by VARCHAR  account that confirmed or rejected it
--   decided_on DATE  date of the decision
--   evidence_names VARCHAR[]  evidence file names, in order
--   evidence_sha256 VARCHAR[]  their SHA-256, in the same order
SELECT e.entry_id, e.inspection_id, e.round_id, e.unit_id, u.short_name AS unit_name, e.item,
       e.value, e.note, e.entered_by, e.entered_at, e.entered_on,
       d.decision, d.reason, d.decided_by, d.decided_on,
       coalesce((SELECT list(x.file_name ORDER BY x.position) FROM evaluation_entry_evidence x
                 WHERE x.entry_id = e.entry_id), [])::VARCHAR[] AS evidence_names,
       coalesce((SELECT list(x.sha256 ORDER BY x.position) FROM evaluation_entry_evidence x
                 WHERE x.entry_id = e.entry_id), [])::VARCHAR[] AS evidence_sha256
FROM evaluation_entries e
JOIN units u ON u.unit_id = e.unit_id
LEFT JOIN evaluation_decisions d
       ON d.entry_id = e.entry_id AND d.decided_on <= $as_of::DATE
WHERE in_inspections(e.inspection_id, $inspection_ids)
  AND e.entered_on <= $as_of::DATE
ORDER BY e.entry_id
