-- The stored password verifiers of the given roles (superusers only:
-- pg_authid is not readable otherwise). Used to detect a password changed
-- outside rolecd; never shipped anywhere else.
SELECT rolname, coalesce(rolpassword, '')
FROM pg_authid
WHERE rolname = ANY($1::text[])
ORDER BY rolname
