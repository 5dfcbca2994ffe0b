-- Every role of the cluster with its attributes, comment, password expiry
-- and per-role settings. valid_until is '' when the password never expires
-- (NULL or infinity), else the UTC time in whole seconds; settings are the
-- role's own "name=value" settings (ALTER ROLE ... SET, in every database:
-- pg_roles.rolconfig), readable without superuser rights.
SELECT r.rolname::text,
       r.rolsuper,
       r.rolinherit,
       r.rolcreaterole,
       r.rolcreatedb,
       r.rolcanlogin,
       r.rolreplication,
       r.rolbypassrls,
       r.rolconnlimit,
       coalesce(shobj_description(r.oid, 'pg_authid'), '') AS comment,
       CASE
           WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN ''
           WHEN r.rolvaliduntil = '-infinity' THEN '-infinity'
           ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
       END AS valid_until,
       coalesce(r.rolconfig, '{}')::text[] AS settings
FROM pg_catalog.pg_roles AS r
ORDER BY r.rolname COLLATE "C"
