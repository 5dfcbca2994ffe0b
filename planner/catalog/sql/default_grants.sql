-- Default privileges (ALTER DEFAULT PRIVILEGES) of the connected database
-- that grant something to the roles of interest ($1: the roles being
-- planned, never the others): one row per (schema, creator, object kind,
-- grantee, privilege).
-- schema is '' for the database-wide entries (no IN SCHEMA). A creator's
-- own entry in a database-wide row is its owner default, not a grant.
WITH interest AS (
    SELECT r.oid, r.rolname
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY ($1::text[])
),
grants AS (
    SELECT coalesce(n.nspname::text, '') AS schema,
           pg_catalog.pg_get_userbyid(d.defaclrole)::text AS creator,
           CASE d.defaclobjtype
               WHEN 'r' THEN 'TABLES'
               WHEN 'S' THEN 'SEQUENCES'
               WHEN 'f' THEN 'FUNCTIONS'
               WHEN 'T' THEN 'TYPES'
               WHEN 'n' THEN 'SCHEMAS'
               WHEN 'L' THEN 'LARGE OBJECTS'
               ELSE d.defaclobjtype::text
           END AS objects,
           i.rolname::text AS grantee,
           a.privilege_type AS privilege,
           a.is_grantable AS grantable
    FROM pg_catalog.pg_default_acl AS d
    LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace
    CROSS JOIN LATERAL aclexplode(d.defaclacl) AS a
    JOIN interest AS i ON i.oid = a.grantee
    WHERE a.grantee <> d.defaclrole
      AND (d.defaclnamespace = 0
           OR (n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
               AND n.nspname !~ '^pg_(toast_)?temp_'))
)
SELECT g.schema, g.creator, g.objects, g.grantee, g.privilege, g.grantable
FROM grants AS g
ORDER BY g.schema COLLATE "C", g.creator COLLATE "C", g.objects COLLATE "C", g.grantee COLLATE "C", g.privilege COLLATE "C"
