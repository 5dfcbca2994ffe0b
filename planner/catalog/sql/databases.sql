-- Every database with its direct grants to the roles of interest: the roles
-- named in $1 (the roles being planned), never the others. One row per
-- database and (grantee, privilege); NULL grantee for a database without
-- such grants. The same privilege granted by several grantors is one row.
WITH interest AS (
    SELECT r.oid, r.rolname
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = ANY ($1::text[])
)
SELECT d.datname::text,
       pg_catalog.pg_get_userbyid(d.datdba)::text AS owner,
       d.datallowconn,
       d.datistemplate,
       g.grantee,
       g.privilege,
       g.grantable
FROM pg_catalog.pg_database AS d
LEFT JOIN LATERAL (
    SELECT i.rolname::text AS grantee,
           a.privilege_type AS privilege,
           bool_or(a.is_grantable) AS grantable
    FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS a
    JOIN interest AS i ON i.oid = a.grantee
    WHERE a.grantee <> 0
    GROUP BY 1, 2
) AS g ON true
ORDER BY d.datname COLLATE "C", g.grantee COLLATE "C", g.privilege COLLATE "C"
