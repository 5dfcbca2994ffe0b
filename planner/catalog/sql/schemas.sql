-- The user schemas of the connected database with their owner, their
-- number of table-like relations (tables, partitioned tables and their
-- partitions, views, materialized views, foreign tables), of sequences and
-- of routines (functions, procedures, aggregates), the owners of those
-- objects (the roles that create in the schema), and their direct grants
-- to the roles of interest ($1: the roles being planned, never the
-- others). One row per schema and (grantee, privilege); NULL grantee when
-- there is none.
WITH interest AS (
    SELECT r.oid, r.rolname
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY ($1::text[])
),
relations AS (
    SELECT c.relnamespace AS nsp,
           count(*) FILTER (WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')) AS tables,
           count(*) FILTER (WHERE c.relkind = 'S') AS sequences,
           array_agg(DISTINCT c.relowner) AS owners
    FROM pg_catalog.pg_class AS c
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    GROUP BY c.relnamespace
),
routines AS (
    SELECT p.pronamespace AS nsp,
           count(*) AS n,
           array_agg(DISTINCT p.proowner) AS owners
    FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace <> 'pg_catalog'::regnamespace
      AND p.pronamespace <> 'information_schema'::regnamespace
    GROUP BY p.pronamespace
)
SELECT n.nspname::text,
       pg_catalog.pg_get_userbyid(n.nspowner)::text AS owner,
       coalesce(rel.tables, 0) AS tables,
       coalesce(rel.sequences, 0) AS sequences,
       coalesce(fn.n, 0) AS routines,
       ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(o)::text COLLATE "C"
             FROM unnest(coalesce(rel.owners, '{}') || coalesce(fn.owners, '{}')) AS o
             ORDER BY 1) AS creators,
       g.grantee,
       g.privilege,
       g.grantable
FROM pg_catalog.pg_namespace AS n
LEFT JOIN relations AS rel ON rel.nsp = n.oid
LEFT JOIN routines AS fn ON fn.nsp = n.oid
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
