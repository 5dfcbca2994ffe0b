-- Direct grants on the objects of user schemas to the roles of interest
-- ($1: the roles being planned, never the others), aggregated per (schema,
-- kind, grantee, privilege): the result grows with schemas x roles x
-- privileges, never with objects. Kinds: "table" (tables, partitioned
-- tables, views, materialized views, foreign tables), "sequence" and
-- "routine" (functions, procedures, aggregates). An object counts once even
-- when several grantors granted the privilege; it counts as grantable when
-- any of them granted it WITH GRANT OPTION.
--
-- Objects are first grouped by their ACL: GRANT ... ON ALL TABLES IN SCHEMA
-- gives the tables of a schema the same ACL, so a schema of thousands of
-- tables has a handful of distinct ACLs, and each distinct ACL is exploded
-- once (not once per object) and counted with its number of objects.
WITH interest AS (
    SELECT r.oid, r.rolname
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY ($1::text[])
),
objects AS (
    SELECT c.relnamespace AS nsp,
           CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind,
           coalesce(c.relacl,
               acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl
    FROM pg_catalog.pg_class AS c
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      -- A NULL ACL grants only to the owner: skip the objects whose owner
      -- is not of interest without building their default ACL.
      AND (c.relacl IS NOT NULL OR c.relowner IN (SELECT oid FROM interest))
    UNION ALL
    SELECT p.pronamespace,
           'routine',
           coalesce(p.proacl, acldefault('f', p.proowner))
    FROM pg_catalog.pg_proc AS p
    WHERE p.proacl IS NOT NULL OR p.proowner IN (SELECT oid FROM interest)
),
acls AS (
    SELECT o.nsp, o.kind, o.acl, count(*) AS objects
    FROM objects AS o
    JOIN pg_catalog.pg_namespace AS n ON n.oid = o.nsp
    -- No role of interest (a resource declaring none): nothing to read.
    WHERE EXISTS (SELECT FROM interest)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname !~ '^pg_(toast_)?temp_'
    GROUP BY o.nsp, o.kind, o.acl
),
-- One row per distinct ACL and (grantee, privilege), whatever the grantors.
held AS (
    SELECT a.nsp, a.kind, a.objects, x.grantee, x.privilege_type AS privilege,
           bool_or(x.is_grantable) AS grantable
    FROM acls AS a
    CROSS JOIN LATERAL aclexplode(a.acl) AS x
    WHERE x.grantee IN (SELECT oid FROM interest)
    GROUP BY a.nsp, a.kind, a.acl, a.objects, x.grantee, x.privilege_type
)
SELECT n.nspname::text AS schema,
       h.kind,
       i.rolname::text AS grantee,
       h.privilege,
       sum(h.objects)::bigint AS objects,
       (coalesce(sum(h.objects) FILTER (WHERE h.grantable), 0))::bigint AS grantable
FROM held AS h
JOIN pg_catalog.pg_namespace AS n ON n.oid = h.nsp
JOIN interest AS i ON i.oid = h.grantee
GROUP BY n.nspname, h.kind, i.rolname, h.privilege
ORDER BY n.nspname::text COLLATE "C", h.kind COLLATE "C", i.rolname::text COLLATE "C", h.privilege COLLATE "C"
