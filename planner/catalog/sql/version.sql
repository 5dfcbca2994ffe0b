-- The server version and the role rolecd is connected as.
SELECT current_setting('server_version_num')::int AS server_version_num,
       current_setting('server_version') AS server_version,
       current_user::text AS current_user
