-- Seed for the demo "analytics" cluster (run in database postgres).
CREATE DATABASE analytics;
CREATE DATABASE legacy;
\connect analytics
CREATE SCHEMA reporting;
CREATE SCHEMA "Staging Area";
CREATE TABLE public.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text, at timestamptz);
CREATE TABLE public.sessions (id bigint PRIMARY KEY, user_id bigint);
CREATE VIEW public.daily_events AS SELECT date_trunc('day', at) AS day, count(*) FROM public.events GROUP BY 1;
CREATE TABLE reporting.kpis (name text PRIMARY KEY, value numeric);
CREATE MATERIALIZED VIEW reporting.kpi_snapshot AS SELECT * FROM reporting.kpis;
CREATE TABLE "Staging Area"."Raw Import" (line text);
\connect legacy
CREATE TABLE public.customers (id int PRIMARY KEY, name text);
CREATE TABLE public.orders (id int PRIMARY KEY, customer_id int);
