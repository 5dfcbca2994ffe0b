-- 003_credential_endpoints: where a generated credential logs in (host,
-- port, database, sslmode), stored with it so `rolecd creds get` needs only
-- the store. Rows written before this migration have host ''.

ALTER TABLE credentials ADD COLUMN host text NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN port integer NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN database_name text NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN sslmode text NOT NULL DEFAULT '';
