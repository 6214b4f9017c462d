-- Least-privilege grants for the four RegReport group roles (see docs/security.md).
--
-- Run by regreport.roles.ensure_roles as the admin (owner) role, after the cluster-wide roles
-- exist. Two sections, each run in its own database: `-- @warehouse` and `-- @source`.
-- Every statement is idempotent, so the script is re-run whenever new tables may exist
-- (`ALTER DEFAULT PRIVILEGES` covers tables created later by the admin and by the roles that
-- create objects themselves: extract in raw, transform in the dbt schemas).
--
-- Role summary:
--   regreport_extract    read qsuite.* (source); write raw.* (warehouse)
--   regreport_transform  read raw.*; create/write staging, intermediate, marts, reports,
--                        reference (dbt); write regreport.rule_violations (the rule gate)
--   regreport_report     read the warehouse (raw to reports: reconciliation counts the
--                        landed source); write regreport.* except the append-only audit
--                        tables (regreport.audit*), which are insert+select only
--   regreport_auditor    select on every schema, nothing else
-- Every pipeline role appends to the audit log (insert+select: the hash chain reads the
-- head) and reads regreport.schema_versions (regreport.ddl); none may create in regreport.

-- @warehouse
select pg_advisory_xact_lock(hashtext('regreport.roles'));

-- The admin owns the schemas; creating them here lets every grant below refer to them on a
-- fresh warehouse (the pipeline's own `create schema if not exists` then finds them).
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists reports;
create schema if not exists reference;
create schema if not exists regreport;
revoke all on schema raw, staging, intermediate, marts, reports, reference, regreport from public;

-- Objects in the dbt schemas belong to the role that rebuilds them (dbt's table
-- materialisation renames and drops the old relation, which only the owner may do); raw
-- tables belong to the extractor (it truncates and may add columns).
do $$
declare
    rel record;
    kind text;
begin
    for rel in
        select n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) as owner,
               case when n.nspname = 'raw' then 'regreport_extract'
                    else 'regreport_transform' end as new_owner
        from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname in ('raw', 'staging', 'intermediate', 'marts', 'reports', 'reference')
          and c.relkind in ('r', 'p', 'v', 'm', 'f')
    loop
        if rel.owner <> rel.new_owner then
            kind := case rel.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                     when 'f' then 'foreign table' else 'table' end;
            execute format('alter %s %I.%I owner to %I', kind, rel.nspname, rel.relname,
                           rel.new_owner);
        end if;
    end loop;
end
$$;

-- regreport_extract: raw only.
grant usage, create on schema raw to regreport_extract;
grant select, insert, update, delete, truncate on all tables in schema raw to regreport_extract;
grant usage, select, update on all sequences in schema raw to regreport_extract;
alter default privileges in schema raw
    grant select, insert, update, delete, truncate on tables to regreport_extract;
alter default privileges in schema raw
    grant usage, select, update on sequences to regreport_extract;

-- regreport_transform: reads raw, owns and writes the dbt schemas.
grant usage on schema raw to regreport_transform;
grant select on all tables in schema raw to regreport_transform;
alter default privileges in schema raw grant select on tables to regreport_transform;
alter default privileges for role regreport_extract in schema raw
    grant select on tables to regreport_transform;
grant usage, create on schema staging, intermediate, marts, reports, reference
    to regreport_transform;
grant select, insert, update, delete, truncate
    on all tables in schema staging, intermediate, marts, reports, reference
    to regreport_transform;
alter default privileges in schema staging, intermediate, marts, reports, reference
    grant select, insert, update, delete, truncate on tables to regreport_transform;
-- The rule gate writes its failures between the intermediate and the report models.
grant usage on schema regreport to regreport_extract, regreport_transform;
grant usage, select on all sequences in schema regreport
    to regreport_extract, regreport_transform;
do $$
begin
    if to_regclass('regreport.rule_violations') is not null then
        grant select, insert, update, delete on regreport.rule_violations to regreport_transform;
    end if;
end
$$;

-- regreport_report: reads the warehouse (render reconciles the report with the landed source
-- and reads the firm from staging); writes the platform's own tables.
grant usage on schema raw, staging, intermediate, marts, reports, reference to regreport_report;
grant select on all tables in schema raw, staging, intermediate, marts, reports, reference
    to regreport_report;
alter default privileges in schema raw, staging, intermediate, marts, reports, reference
    grant select on tables to regreport_report;
alter default privileges for role regreport_transform
    in schema staging, intermediate, marts, reports, reference
    grant select on tables to regreport_report;
alter default privileges for role regreport_extract in schema raw
    grant select on tables to regreport_report;
grant usage on schema regreport to regreport_report;
grant usage, select on all sequences in schema regreport to regreport_report;
alter default privileges in schema regreport grant usage, select on sequences to regreport_report;
-- Tables created later get insert+select only (fail closed: a new audit table must never be
-- updatable); the next run of this script widens ordinary tables to update+delete.
alter default privileges in schema regreport grant select, insert on tables to regreport_report;
do $$
declare
    rel record;
begin
    for rel in
        select c.relname from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'regreport' and c.relkind in ('r', 'p', 'v', 'm')
    loop
        if rel.relname like 'audit%' then
            -- Append-only: the trigger refuses UPDATE/DELETE/TRUNCATE too; privileges first.
            -- Every pipeline stage records its own steps.
            execute format('grant select, insert on regreport.%I to regreport_extract, '
                           'regreport_transform, regreport_report', rel.relname);
            execute format('revoke update, delete, truncate, references, trigger '
                           'on regreport.%I from regreport_extract, regreport_transform, '
                           'regreport_report', rel.relname);
        elsif rel.relname = 'schema_versions' then
            -- Written by the admin's setup only (regreport.ddl).
            execute format('grant select on regreport.%I to regreport_extract, '
                           'regreport_transform, regreport_report', rel.relname);
            execute format('revoke insert, update, delete, truncate on regreport.%I '
                           'from regreport_report', rel.relname);
        else
            execute format('grant select, insert, update, delete on regreport.%I '
                           'to regreport_report', rel.relname);
        end if;
    end loop;
end
$$;

-- Reference data (FIRDS, GLEIF; `regreport.refdata`): loaded by the admin, read by the rule
-- gate (transform) and the reporting role. A reload truncates, so the grants stay.
create schema if not exists refdata;
revoke all on schema refdata from public;
grant usage on schema refdata to regreport_transform, regreport_report;
grant select on all tables in schema refdata to regreport_transform, regreport_report;
alter default privileges in schema refdata
    grant select on tables to regreport_transform, regreport_report;

alter default privileges for role regreport_extract in schema raw
    grant select on tables to regreport_auditor;
alter default privileges for role regreport_transform
    in schema staging, intermediate, marts, reports, reference
    grant select on tables to regreport_auditor;

-- @source
select pg_advisory_xact_lock(hashtext('regreport.roles'));

-- The QSuite schema belongs to the source system: it is granted on, never created, here.
do $$
begin
    if to_regnamespace('qsuite') is not null then
        grant usage on schema qsuite to regreport_extract;
        grant select on all tables in schema qsuite to regreport_extract;
        alter default privileges in schema qsuite grant select on tables to regreport_extract;
    end if;
end
$$;

-- @every-database
-- regreport_auditor: select on every schema (present and future), nothing else. Runs after the
-- database's own section.
do $$
declare
    nsp record;
begin
    for nsp in
        select nspname from pg_namespace
        where nspname not like 'pg\_%' and nspname <> 'information_schema'
    loop
        execute format('grant usage on schema %I to regreport_auditor', nsp.nspname);
        execute format('grant select on all tables in schema %I to regreport_auditor',
                       nsp.nspname);
        execute format('alter default privileges in schema %I '
                       'grant select on tables to regreport_auditor', nsp.nspname);
    end loop;
end
$$;
