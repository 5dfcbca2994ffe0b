-- What the role rolecd connects as may do: its own attributes (the row
-- named current_user), and, unless it is a superuser (who may do
-- everything), every role it is a member of, directly or not, with what
-- that membership gives it, as PostgreSQL itself decides (pg_has_role):
-- the role's privileges (USAGE), SET ROLE to it ($1: 'SET' from
-- PostgreSQL 16 on, 'MEMBER' before), and ADMIN OPTION on it. Nothing
-- here needs pg_authid.
SELECT r.rolname::text,
       r.rolsuper,
       r.rolcreaterole,
       r.rolcreatedb,
       r.rolreplication,
       r.rolbypassrls,
       pg_catalog.pg_has_role(r.oid, 'USAGE') AS usage,
       pg_catalog.pg_has_role(r.oid, $1::text) AS can_set,
       pg_catalog.pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION') AS admin
FROM pg_catalog.pg_roles AS r
WHERE r.rolname = current_user
   OR (NOT (SELECT s.rolsuper FROM pg_catalog.pg_roles AS s WHERE s.rolname = current_user)
       AND r.rolname <> 'pg_database_owner'
       AND pg_catalog.pg_has_role(r.oid, 'MEMBER'))
ORDER BY r.rolname COLLATE "C"
