-- Target database. cdc-apply owns the database (so it can create the
-- replicated tables with --create-tables and its state schema "cdc");
-- Grafana gets SELECT on the state schema only.
CREATE ROLE cdc_apply WITH LOGIN PASSWORD 'cdc_apply';
CREATE ROLE grafana_ro WITH LOGIN PASSWORD 'grafana_ro';

ALTER DATABASE target OWNER TO cdc_apply;   -- PG 15: owns schema public via pg_database_owner
CREATE SCHEMA IF NOT EXISTS cdc AUTHORIZATION cdc_apply;

GRANT CONNECT ON DATABASE target TO grafana_ro;
GRANT USAGE ON SCHEMA cdc TO grafana_ro;
-- The state tables do not exist yet (cdc-apply / cdc-verify create them on
-- first start): grant on whatever cdc_apply creates there from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE cdc_apply IN SCHEMA cdc GRANT SELECT ON TABLES TO grafana_ro;
-- Dashboards never need the replicated data itself: no grant on public.
