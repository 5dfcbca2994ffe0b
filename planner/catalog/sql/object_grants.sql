-- Direct grants on the objects of user schemas to the roles of interest
-- ($1: the roles being planned, never the others), aggregated per (schema, kind, grantee,
-- privilege): the result grows with schemas x roles x privileges, never
-- with objects. Kinds: "table" (tables, partitioned tables, views,
-- materialized views, foreign tables), "sequence" and "routine"
-- (functions, procedures, aggregates). An object counts once even when
-- several grantors granted the privilege; it counts as grantable when any
-- of them granted it WITH GRANT OPTION. Relations and routines are two
-- branches, so that identical ACLs (GRANT ... ON ALL TABLES) are exploded
-- once each (Memoize).
WITH interest AS (
    SELECT r.oid, r.rolname
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY ($1::text[])
),
grants AS (
    SELECT n.nspname::text AS schema,
           CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind,
           i.rolname::text AS grantee,
           a.privilege_type AS privilege,
           count(DISTINCT c.oid) AS objects,
           count(DISTINCT c.oid) FILTER (WHERE a.is_grantable) AS grantable
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL aclexplode(coalesce(c.relacl,
        acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) AS a
    JOIN interest AS i ON i.oid = a.grantee
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      -- No role of interest (a resource declaring none): nothing to
      -- explode, the scan is skipped.
      AND EXISTS (SELECT FROM interest)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      -- A NULL ACL grants only to the owner (and, for routines, PUBLIC):
      -- skip the objects whose owner is not of interest without exploding
      -- their default ACL.
      AND (c.relacl IS NOT NULL OR c.relowner IN (SELECT oid FROM interest))
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT n.nspname::text,
           'routine',
           i.rolname::text,
           a.privilege_type,
           count(DISTINCT p.oid),
           count(DISTINCT p.oid) FILTER (WHERE a.is_grantable)
    FROM pg_catalog.pg_proc AS p
    JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
    JOIN interest AS i ON i.oid = a.grantee
    WHERE EXISTS (SELECT FROM interest)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
      AND (p.proacl IS NOT NULL OR p.proowner IN (SELECT oid FROM interest))
    GROUP BY 1, 2, 3, 4
)
SELECT g.schema, g.kind, g.grantee, g.privilege, g.objects, g.grantable
FROM grants AS g
ORDER BY g.schema COLLATE "C", g.kind COLLATE "C", g.grantee COLLATE "C", g.privilege COLLATE "C"
