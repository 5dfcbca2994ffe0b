-- Role memberships, PostgreSQL 16 and later (INHERIT and SET options).
SELECT member.rolname::text AS member,
       granted.rolname::text AS role,
       coalesce(grantor.rolname::text, '') AS grantor,
       m.admin_option,
       m.inherit_option,
       m.set_option
FROM pg_catalog.pg_auth_members AS m
JOIN pg_catalog.pg_roles AS member ON member.oid = m.member
JOIN pg_catalog.pg_roles AS granted ON granted.oid = m.roleid
LEFT JOIN pg_catalog.pg_roles AS grantor ON grantor.oid = m.grantor
ORDER BY member.rolname COLLATE "C", granted.rolname COLLATE "C", grantor.rolname COLLATE "C"
