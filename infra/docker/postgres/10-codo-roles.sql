-- Roles and database for codo, run once by the postgres image on an empty
-- data directory (/docker-entrypoint-initdb.d), as the superuser, against the
-- database named by POSTGRES_DB. The same statements, with real passwords,
-- prepare an external PostgreSQL for production (see helm/codo/README.md).
--
--   codo_owner  owns the database, the schema and every table; migrations
--               (`codo migrate`, CODO_MIGRATIONS_DATABASE_URL) run as it.
--   codo_app    the runtime role of the API and the worker (CODO_DATABASE_URL):
--               owns nothing, is no superuser and cannot bypass row-level
--               security, so the tenancy policies apply to every query.
--               `codo migrate` grants it the tables (and checks these flags).
--
-- Passwords come from the environment (psql's \getenv, PostgreSQL 15+):
-- CODO_OWNER_PASSWORD and CODO_APP_PASSWORD must be set for the container;
-- CODO_DATABASE names the database (default codo).

\set ON_ERROR_STOP on
\set owner_password ''
\set app_password ''
\set database_name codo
\getenv owner_password CODO_OWNER_PASSWORD
\getenv app_password CODO_APP_PASSWORD
\getenv database_name CODO_DATABASE

SELECT (:'owner_password' <> '' AND :'app_password' <> '') AS passwords_set \gset
\if :passwords_set
\else
  \warn 'CODO_OWNER_PASSWORD and CODO_APP_PASSWORD must not be empty'
  SELECT 1/0 AS empty_password;
\endif

CREATE ROLE codo_owner LOGIN PASSWORD :'owner_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

CREATE ROLE codo_app LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;

-- The postgres image has already created POSTGRES_DB (owned by the superuser):
-- hand it to the owner role. Create it when this runs against another database.
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database_name') AS need_database \gset
\if :need_database
  CREATE DATABASE :"database_name" OWNER codo_owner;
\else
  ALTER DATABASE :"database_name" OWNER TO codo_owner;
\endif

REVOKE ALL ON DATABASE :"database_name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database_name" TO codo_app;

\connect :"database_name"

-- Since PostgreSQL 15 the public schema belongs to pg_database_owner, i.e. to
-- codo_owner now. Nobody else may create objects in it. Table privileges for
-- codo_app are granted by `codo migrate` after each migration.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO codo_app;
