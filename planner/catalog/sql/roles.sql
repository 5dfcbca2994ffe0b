-- Every role of the cluster with its attributes and comment.
SELECT r.rolname::text,
       r.rolsuper,
       r.rolinherit,
       r.rolcreaterole,
       r.rolcreatedb,
       r.rolcanlogin,
       r.rolreplication,
       r.rolbypassrls,
       r.rolconnlimit,
       coalesce(shobj_description(r.oid, 'pg_authid'), '') AS comment
FROM pg_catalog.pg_roles AS r
ORDER BY r.rolname COLLATE "C"
