-- The user schemas of the connected database with their owner, their
-- number of table-like relations (tables, partitioned tables and their
-- partitions, views, materialized views, foreign tables) and their direct
-- grants to the roles of interest ($1 and marker-commented roles). One row
-- per schema and (grantee, privilege); NULL grantee when there is none.
WITH interest AS (
    SELECT r.oid, r.rolname
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY ($1::text[])
       OR shobj_description(r.oid, 'pg_authid') LIKE 'rolecd: %'
),
tables AS (
    SELECT c.relnamespace, count(*) AS n
    FROM pg_catalog.pg_class AS c
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
    GROUP BY c.relnamespace
)
SELECT n.nspname::text,
       pg_catalog.pg_get_userbyid(n.nspowner)::text AS owner,
       coalesce(t.n, 0) AS tables,
       g.grantee,
       g.privilege,
       g.grantable
FROM pg_catalog.pg_namespace AS n
LEFT JOIN tables AS t ON t.relnamespace = n.oid
LEFT JOIN LATERAL (
    SELECT i.rolname::text AS grantee,
           a.privilege_type AS privilege,
           bool_or(a.is_grantable) AS grantable
    FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
    JOIN interest AS i ON i.oid = a.grantee
    WHERE a.grantee <> 0
    GROUP BY 1, 2
) AS g ON true
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
ORDER BY n.nspname COLLATE "C", g.grantee COLLATE "C", g.privilege COLLATE "C"
