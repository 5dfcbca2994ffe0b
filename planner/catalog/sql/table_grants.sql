-- Direct grants on table-like relations to the roles of interest ($1 and
-- marker-commented roles), aggregated per (schema, grantee, privilege): the
-- result grows with schemas x roles x privileges, never with tables. A
-- relation counts once even when several grantors granted the privilege;
-- it counts as grantable when any of them granted it WITH GRANT OPTION.
WITH interest AS (
    SELECT r.oid, r.rolname
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY ($1::text[])
       OR shobj_description(r.oid, 'pg_authid') LIKE 'rolecd: %'
)
SELECT n.nspname::text,
       i.rolname::text AS grantee,
       a.privilege_type AS privilege,
       count(DISTINCT c.oid) AS tables,
       count(DISTINCT c.oid) FILTER (WHERE a.is_grantable) AS grantable
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
JOIN interest AS i ON i.oid = a.grantee
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname !~ '^pg_(toast_)?temp_'
  -- A NULL ACL grants only to the owner: skip the relations whose owner is
  -- not of interest without exploding their default ACL.
  AND (c.relacl IS NOT NULL OR c.relowner IN (SELECT oid FROM interest))
GROUP BY n.nspname, i.rolname, a.privilege_type
ORDER BY n.nspname COLLATE "C", i.rolname COLLATE "C", a.privilege_type COLLATE "C"
