-- Seed for the demo "billing" cluster (run in database postgres).
CREATE DATABASE billing;
CREATE ROLE billing_support NOLOGIN;
\connect billing
CREATE SCHEMA invoices;
CREATE TABLE public.accounts (id int PRIMARY KEY, name text);
CREATE TABLE invoices.invoices (id int PRIMARY KEY, account_id int, total numeric);
CREATE TABLE invoices.lines (invoice_id int, n int, amount numeric, PRIMARY KEY (invoice_id, n));
GRANT SELECT ON ALL TABLES IN SCHEMA invoices TO billing_support;
