-- The vocabulary every named query (queries/*.sql), derived table and SQL sandbox is built from:
-- each 口径 (DOMAIN.md) written once, as DuckDB macros installed into every data version at
-- write time (schema.refresh_derived), into the copy of a version written by older code
-- (schema.add_current_summaries) and into every SQL sandbox (sandbox/build.py).
--
-- Macros are expanded where they are called, so a query over them is planned exactly as if
-- their text were written out: a filter on a bound parameter ($current, a NULL list) still
-- folds away, and a branch whose test is false is never read. Parameters are named so that
-- they never shadow a column (p_…), since a macro's parameter wins over a column of its name.
--
-- Lists: a NULL list means "no restriction" (every inspection, every category). The scope of a
-- filter state (xuncha.filters.Scope.params) is three lists: inspection ids, level-1 and
-- level-2 category codes.

-- -- scalar macros ------------------------------------------------------------------------

-- p_value is in p_list, or the list is NULL.
CREATE OR REPLACE MACRO in_list(p_value, p_list) AS
    (p_list IS NULL OR p_value IN (SELECT unnest(p_list)));

-- An inspection in scope.
CREATE OR REPLACE MACRO in_inspections(p_inspection_id, p_ids) AS
    in_list(p_inspection_id, p_ids::INTEGER[]);

-- A category in the chosen level-1 and level-2 categories.
CREATE OR REPLACE MACRO in_categories(p_l1, p_l2, p_l1s, p_l2s) AS
    (in_list(p_l1, p_l1s::VARCHAR[]) AND in_list(p_l2, p_l2s::VARCHAR[]));

-- The scope test of a row that has an inspection and a category (DOMAIN.md §3).
CREATE OR REPLACE MACRO in_scope(p_inspection_id, p_l1, p_l2, p_ids, p_l1s, p_l2s) AS
    (in_inspections(p_inspection_id, p_ids) AND in_categories(p_l1, p_l2, p_l1s, p_l2s));

-- A timeline row's interval holds the date (valid_to is exclusive; NULL: still open).
CREATE OR REPLACE MACRO valid_on(p_from, p_to, p_as_of) AS
    (p_from <= p_as_of::DATE AND (p_to IS NULL OR p_to > p_as_of::DATE));

-- An open measure is overdue: its current deadline is before the date (DOMAIN.md §5).
CREATE OR REPLACE MACRO is_overdue(p_status, p_deadline, p_as_of) AS
    (p_status <> 'DONE' AND p_deadline < p_as_of::DATE);

-- An open measure without a dated deadline, or marked 长期坚持 (DOMAIN.md §5).
CREATE OR REPLACE MACRO is_long_term(p_status, p_deadline) AS
    (p_status <> 'DONE' AND (p_deadline IS NULL OR p_status = 'LONG_TERM'));

-- The warning colour of an open measure's deadline on a date: 红 overdue, 黄 at most 10 days
-- left, 绿 at most 20, else none ('').
CREATE OR REPLACE MACRO warning_colour(p_deadline, p_as_of) AS
    CASE WHEN p_deadline < p_as_of::DATE THEN '红'
         WHEN p_deadline - p_as_of::DATE <= 10 THEN '黄'
         WHEN p_deadline - p_as_of::DATE <= 20 THEN '绿'
         ELSE '' END;

-- The deadline's colour is one of p_kinds (NULL: any), written as deadline ranges rather than
-- through warning_colour, so that a scan can filter on them.
CREATE OR REPLACE MACRO warning_in(p_deadline, p_as_of, p_kinds) AS
    (p_kinds IS NULL
     OR (list_contains(p_kinds::VARCHAR[], '红') AND p_deadline < p_as_of::DATE)
     OR (list_contains(p_kinds::VARCHAR[], '黄') AND p_deadline >= p_as_of::DATE
         AND p_deadline - p_as_of::DATE <= 10)
     OR (list_contains(p_kinds::VARCHAR[], '绿') AND p_deadline - p_as_of::DATE > 10
         AND p_deadline - p_as_of::DATE <= 20)
     OR (list_contains(p_kinds::VARCHAR[], '') AND p_deadline - p_as_of::DATE > 20));

-- A row's group under a grouping of the rectification roll-up: its label (group_key) and its
-- stable id (group_id; two units may share a short name). Groupings: all, round, unit,
-- round_unit (a unit in a round), category_l1, category_l2, sector, peer_group.
CREATE OR REPLACE MACRO group_key_of(p_by, p_round_name, p_unit_name, p_l1, p_l2, p_sector,
                                     p_peer_group) AS
    CASE p_by WHEN 'round' THEN p_round_name WHEN 'unit' THEN p_unit_name
              WHEN 'round_unit' THEN p_unit_name
              WHEN 'category_l1' THEN p_l1 WHEN 'category_l2' THEN p_l2
              WHEN 'sector' THEN p_sector WHEN 'peer_group' THEN p_peer_group
              ELSE '全部' END;

CREATE OR REPLACE MACRO group_id_of(p_by, p_round_id, p_unit_id, p_l1, p_l2, p_sector,
                                    p_peer_group) AS
    CASE p_by WHEN 'round' THEN p_round_id::VARCHAR WHEN 'unit' THEN p_unit_id::VARCHAR
              WHEN 'round_unit' THEN p_round_id::VARCHAR || '/' || p_unit_id::VARCHAR
              WHEN 'category_l1' THEN p_l1 WHEN 'category_l2' THEN p_l2
              WHEN 'sector' THEN p_sector WHEN 'peer_group' THEN p_peer_group
              ELSE 'all' END;

-- A repeat chain's text (屡查屡犯): its rounds in order, each named by its term and the 第X轮
-- part of its name (else the name), a 反弹 round marked; an aggregate over the chain's rounds.
CREATE OR REPLACE MACRO chain_text(p_term, p_round_name, p_rebound, p_seq) AS
    string_agg(coalesce(p_term, '')
               || coalesce(nullif(regexp_extract(p_round_name, '第.+?轮'), ''), p_round_name)
               || CASE WHEN p_rebound THEN '（反弹）' ELSE '' END,
               ' → ' ORDER BY p_seq);

-- Groups ordered by round (round, round_unit) carry the round's seq; others none.
CREATE OR REPLACE MACRO group_order_of(p_by, p_seq) AS
    CASE WHEN p_by IN ('round', 'round_unit') THEN p_seq END;

-- The group of a current-state summary row: under a category grouping its own category, else
-- the group its inspection belongs to (computed once per inspection).
CREATE OR REPLACE MACRO row_group(p_by, p_l1, p_l2, p_inspection_group) AS
    CASE p_by WHEN 'category_l1' THEN p_l1 WHEN 'category_l2' THEN p_l2
              ELSE p_inspection_group END;

-- The tallies of a group of measure rows that do not depend on the date (DOMAIN.md §5), as one
-- STRUCT: an aggregate, used with GROUP BY as unnest(measure_tallies(...)) for one column each.
-- Overdue and not yet due depend on the date and are counted where the date is known.
CREATE OR REPLACE MACRO measure_tallies(p_status, p_deadline, p_on_time_original,
                                        p_on_time_current) AS {
    'measures': count(*),
    'measures_done': count(*) FILTER (WHERE p_status = 'DONE'),
    'measures_phased': count(*) FILTER (WHERE p_status = 'PHASED'),
    'measures_in_progress': count(*) FILTER (WHERE p_status = 'IN_PROGRESS'),
    'measures_not_done': count(*) FILTER (WHERE p_status = 'NOT_DONE'),
    'measures_long_term': count(*) FILTER (WHERE is_long_term(p_status, p_deadline)),
    'completed_with_deadline':
        count(*) FILTER (WHERE p_status = 'DONE' AND p_on_time_original IS NOT NULL),
    'on_time_original': count(*) FILTER (WHERE p_on_time_original),
    'completed_with_current_deadline':
        count(*) FILTER (WHERE p_status = 'DONE' AND p_on_time_current IS NOT NULL),
    'on_time_current': count(*) FILTER (WHERE p_on_time_current)
};
