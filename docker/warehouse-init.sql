-- Runs once, when the `warehouse` service initialises an empty data volume
-- (postgres image: /docker-entrypoint-initdb.d/), as POSTGRES_USER (WAREHOUSE_USER in .env).
-- One PostgreSQL server holds two databases, matching regreport.config defaults:
--   qsuite     the QSuite trading database RegReport reports from (REGREPORT_SOURCE_DSN)
--   warehouse  raw landings, dbt models, the submission registry (REGREPORT_WAREHOUSE_DSN)
-- Tables are created by the application and dbt, not here. To re-run this file, remove the
-- `warehouse-db-volume` volume (`docker compose down -v`).
create database qsuite;
create database warehouse;
