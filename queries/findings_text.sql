-- name: findings_text
-- returns: every finding's text (具体问题, 具体表现) with what a search filters and orders by; in the listing's order (latest round first, then unit and finding); the keyword search holds it in memory once per data version (xuncha.figures.search)
-- grain: one row per finding_id
-- params:
-- columns:
--   finding_id INTEGER  finding
--   inspection_id INTEGER  its inspection
--   category_l1 VARCHAR  level-1 code
--   category_l2 VARCHAR  level-2 code
--   feedback_date DATE  反馈日期: the finding is in scope on and after it
--   seq INTEGER  its round's order (listing: latest round first)
--   unit_id INTEGER  its unit (listing order within a round)
--   title VARCHAR  具体问题
--   detail VARCHAR  具体表现 ('' when none)
SELECT f.finding_id, f.inspection_id, f.category_l1, f.category_l2, i.feedback_date,
       r.seq, f.unit_id, f.title, coalesce(f.detail, '') AS detail
FROM findings f
JOIN inspections i ON i.inspection_id = f.inspection_id
JOIN rounds r ON r.round_id = f.round_id
ORDER BY r.seq DESC, f.unit_id, f.finding_id
