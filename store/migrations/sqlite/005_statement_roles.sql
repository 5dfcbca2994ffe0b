-- 005_statement_roles: the roles a statement served, as a JSON array of
-- names. A statement shared by several roles (GRANT ... TO r1, r2) is
-- recorded once with all of them. Rows written before this migration have
-- '[]' (their role column names the one role).

ALTER TABLE session_statements ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
