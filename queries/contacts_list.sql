-- name: contacts_list
-- returns: the directory of recipients (通讯录) of the 预警提醒 and 督办函: each contact with its unit (none for the inspection office), position, e-mail and account
-- grain: one row per contact_id
-- params:
-- columns:
--   contact_id INTEGER  contact
--   unit_id INTEGER  unit (NULL: the inspection office 巡察办)
--   unit_name VARCHAR  unit (full name; NULL for the inspection office)
--   unit_short_name VARCHAR  unit (short name; NULL for the inspection office)
--   position VARCHAR  主要负责人, 责任领导, 责任人, 联络员 or 巡察办
--   name VARCHAR  name
--   email VARCHAR  e-mail address (NULL: none known)
--   account VARCHAR  account in this system (NULL: none)
--   batch_id INTEGER  the import that wrote it
SELECT c.contact_id, c.unit_id, u.name AS unit_name, u.short_name AS unit_short_name, c.position,
       c.name, c.email, c.account, c.batch_id
FROM contacts c
LEFT JOIN units u ON u.unit_id = c.unit_id
ORDER BY c.unit_id NULLS FIRST,
         CASE c.position WHEN '巡察办' THEN 0 WHEN '主要负责人' THEN 1 WHEN '责任领导' THEN 2
                         WHEN '责任人' THEN 3 ELSE 4 END,
         c.contact_id
