"""The least-privilege roles against the real PostgreSQL: what each role may and may not do.

A scratch warehouse and a scratch source get one table per schema (and a stand-in
``regreport.audit_log``); `ensure_roles` runs twice (idempotence); then each check runs in
a session that has done ``set role <role>``, so the privileges tested are exactly the
group role's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import errors

from regreport import roles
from regreport.config import Settings

pytestmark = pytest.mark.integration

WAREHOUSE_SETUP = """
create schema raw; create table raw.executions (id int primary key, v text);
create schema staging; create table staging.stg (id int);
create schema intermediate; create table intermediate.int_tx (id int);
create schema marts; create table marts.fct (id int);
create schema reports; create table reports.rpt (id int);
create schema regreport;
create table regreport.report_registry (
    report_id bigint generated always as identity primary key, v text);
create table regreport.transaction_ledger (id serial primary key, v text);
create table regreport.rule_violations (execution_id bigint, rule_code text);
create table regreport.audit_log (seq bigserial primary key, v text);
insert into raw.executions values (1, 'a');
insert into staging.stg values (1);
insert into intermediate.int_tx values (1);
insert into marts.fct values (1);
insert into reports.rpt values (1);
insert into regreport.report_registry (v) values ('r');
insert into regreport.transaction_ledger (v) values ('l');
insert into regreport.audit_log (v) values ('first');
"""
SOURCE_SETUP = """
create schema qsuite; create table qsuite.executions (id int primary key, v text);
insert into qsuite.executions values (1, 'a');
"""


@pytest.fixture
def dbs(pg_services: Settings, scratch_db: Callable[[str], str]) -> dict[str, str]:
    """Scratch warehouse and source with one table per schema, roles ensured twice."""
    suffix = uuid.uuid4().hex[:8]
    names = {"warehouse": f"roles_wh_{suffix}", "source": f"roles_src_{suffix}"}
    dsns = {key: scratch_db(name) for key, name in names.items()}
    with psycopg.connect(dsns["warehouse"]) as conn:
        conn.execute(WAREHOUSE_SETUP)
    with psycopg.connect(dsns["source"]) as conn:
        conn.execute(SOURCE_SETUP)
    admin = pg_services.dsn("postgres")
    for _ in range(2):
        roles.ensure_roles(admin, names["warehouse"], names["source"], None)
    return dsns


@pytest.fixture
def as_role() -> Callable[[str, str], object]:
    """``as_role(dsn, role)``: an autocommit session that has done ``set role``."""

    @contextmanager
    def session(dsn: str, role: str) -> Iterator[psycopg.Connection]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("set role {}").format(psycopg.sql.Identifier(role)))
            yield conn

    return session


def _allowed(conn: psycopg.Connection, statement: str) -> None:
    conn.execute(statement)


def _refused(conn: psycopg.Connection, statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_roles_exist_without_login_or_superpowers(dbs: dict[str, str]) -> None:
    with psycopg.connect(dbs["warehouse"]) as conn:
        rows = conn.execute(
            "select rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
            " from pg_roles where rolname = any(%s)",
            (list(roles.ROLES),),
        ).fetchall()
    assert {r[0] for r in rows} == set(roles.ROLES)
    assert all(not any(r[1:]) for r in rows)


def test_extract(dbs: dict[str, str], as_role) -> None:
    with as_role(dbs["source"], roles.EXTRACT) as src:
        _allowed(src, "select * from qsuite.executions")
        _refused(src, "insert into qsuite.executions values (2, 'b')")
        _refused(src, "update qsuite.executions set v = 'x'")
        _refused(src, "create table qsuite.mine (id int)")
    with as_role(dbs["warehouse"], roles.EXTRACT) as wh:
        _allowed(wh, "insert into raw.executions values (2, 'b')")
        _allowed(wh, "delete from raw.executions where id = 2")
        _allowed(wh, "truncate raw.executions")
        _allowed(wh, "create table raw.later (id int)")
        _allowed(wh, "insert into raw.later values (1)")
        _refused(wh, "select * from staging.stg")
        _refused(wh, "select * from reports.rpt")
        _refused(wh, "select * from regreport.report_registry")
        _refused(wh, "create table staging.mine (id int)")
        _refused(wh, "create schema mine")
        # Its own steps go to the audit log, which it may only append to.
        _allowed(wh, "insert into regreport.audit_log (v) values ('extracted')")
        _refused(wh, "update regreport.audit_log set v = 'x'")
        _refused(wh, "delete from regreport.audit_log")


def test_transform(dbs: dict[str, str], as_role) -> None:
    with as_role(dbs["warehouse"], roles.EXTRACT) as wh:
        wh.execute("create table raw.landed_later as select 1 as id")
    with as_role(dbs["warehouse"], roles.TRANSFORM) as wh:
        _allowed(wh, "select * from raw.executions")
        _allowed(wh, "select * from raw.landed_later")  # default privileges of extract
        _refused(wh, "insert into raw.executions values (3, 'c')")
        _refused(wh, "delete from raw.executions")
        for schema in ("staging", "intermediate", "marts", "reports", "reference"):
            # dbt's table materialisation: create, fill, swap, drop.
            _allowed(wh, f"create table {schema}.m__tmp as select 1 as id")
            _allowed(wh, f"alter table {schema}.m__tmp rename to m")
            _allowed(wh, f"create view {schema}.v as select * from raw.executions")
            _allowed(wh, f"select * from {schema}.v")
            _allowed(wh, f"drop view {schema}.v")
            _allowed(wh, f"drop table {schema}.m")
        _allowed(wh, "insert into marts.fct values (2)")  # existing table, now its own
        _allowed(wh, "insert into regreport.rule_violations values (1, 'R1')")
        _allowed(wh, "delete from regreport.rule_violations")
        _refused(wh, "select * from regreport.report_registry")
        _allowed(wh, "insert into regreport.audit_log (v) values ('rules evaluated')")
        _refused(wh, "update regreport.audit_log set v = 'x'")
        _refused(wh, "truncate regreport.audit_log")
        _refused(wh, "create table regreport.mine (id int)")
    with as_role(dbs["source"], roles.TRANSFORM) as src:
        _refused(src, "select * from qsuite.executions")


def test_report(dbs: dict[str, str], as_role) -> None:
    with as_role(dbs["warehouse"], roles.TRANSFORM) as wh:
        wh.execute("create table reports.rebuilt as select 7 as id")  # made after ensure_roles
    with as_role(dbs["warehouse"], roles.REPORT) as wh:
        _allowed(wh, "select * from reports.rpt")
        _allowed(wh, "select * from reports.rebuilt")  # default privileges of transform
        _allowed(wh, "select * from intermediate.int_tx")
        _refused(wh, "insert into reports.rpt values (2)")
        # Reconciliation counts the landed source: read, never write, upstream schemas.
        _allowed(wh, "select * from raw.executions")
        _allowed(wh, "select * from marts.fct")
        _refused(wh, "insert into raw.executions values (9, 'z')")
        _refused(wh, "delete from marts.fct")
        _refused(wh, "truncate staging.stg")
        _allowed(wh, "insert into regreport.report_registry (v) values ('r2')")
        _allowed(wh, "update regreport.report_registry set v = 'r3' where v = 'r2'")
        _allowed(wh, "insert into regreport.transaction_ledger (v) values ('l2')")  # serial
        _allowed(wh, "delete from regreport.transaction_ledger where v = 'l2'")
        _refused(wh, "truncate regreport.transaction_ledger")
        _refused(wh, "create table regreport.mine (id int)")
        # The audit log: append and read only.
        _allowed(wh, "insert into regreport.audit_log (v) values ('second')")
        assert wh.execute("select count(*) from regreport.audit_log").fetchone()[0] == 2
        _refused(wh, "update regreport.audit_log set v = 'changed'")
        _refused(wh, "delete from regreport.audit_log")
        _refused(wh, "truncate regreport.audit_log")
        _refused(wh, "alter table regreport.audit_log disable trigger all")
        _refused(wh, "drop table regreport.audit_log")


def test_audit_table_created_later_is_append_only(dbs: dict[str, str], as_role) -> None:
    """Default privileges alone (no re-run): a new regreport table gets insert+select only."""
    with psycopg.connect(dbs["warehouse"], autocommit=True) as admin:
        admin.execute("create table regreport.audit_anchor (day date, root text)")
    with as_role(dbs["warehouse"], roles.REPORT) as wh:
        _allowed(wh, "insert into regreport.audit_anchor values (current_date, 'x')")
        _allowed(wh, "select * from regreport.audit_anchor")
        _refused(wh, "update regreport.audit_anchor set root = 'y'")
        _refused(wh, "delete from regreport.audit_anchor")


def test_auditor_reads_everything_and_writes_nothing(dbs: dict[str, str], as_role) -> None:
    with psycopg.connect(dbs["warehouse"], autocommit=True) as admin:
        admin.execute("create table regreport.made_later (id int)")
    with as_role(dbs["warehouse"], roles.AUDITOR) as wh:
        tables = (
            "raw.executions",
            "staging.stg",
            "intermediate.int_tx",
            "marts.fct",
            "reports.rpt",
            "regreport.report_registry",
            "regreport.transaction_ledger",
            "regreport.audit_log",
            "regreport.made_later",
        )
        for table in tables:
            _allowed(wh, f"select * from {table}")
        for table in tables:
            _refused(wh, f"insert into {table} default values")
            _refused(wh, f"delete from {table}")
            _refused(wh, f"truncate {table}")
        _refused(wh, "update regreport.audit_log set v = 'x'")
        for schema in ("raw", "staging", "reports", "regreport", "public"):
            _refused(wh, f"create table {schema}.mine (id int)")
    with as_role(dbs["source"], roles.AUDITOR) as src:
        _allowed(src, "select * from qsuite.executions")
        _refused(src, "insert into qsuite.executions values (9, 'z')")
        _refused(src, "create table qsuite.mine (id int)")


def test_login_users_only_with_password(
    pg_services: Settings, dbs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv(roles.PASSWORD_ENV[roles.AUDITOR], password)
    passwords = roles.passwords_from_env()
    assert passwords == {roles.AUDITOR: password}
    wh_name = psycopg.conninfo.conninfo_to_dict(dbs["warehouse"])["dbname"]
    src_name = psycopg.conninfo.conninfo_to_dict(dbs["source"])["dbname"]
    admin = pg_services.dsn("postgres")
    made = roles.ensure_roles(admin, wh_name, src_name, {"auditor": password})
    assert made == [roles.login_user(roles.AUDITOR)]
    with psycopg.connect(admin) as conn:
        row = conn.execute(
            "select rolcanlogin, rolpassword from pg_authid where rolname = %s",
            (roles.login_user(roles.AUDITOR),),
        ).fetchone()
        members = conn.execute(
            "select pg_has_role(%s, %s, 'usage')",
            (roles.login_user(roles.AUDITOR), roles.AUDITOR),
        ).fetchone()[0]
    assert row[0] is True
    assert members is True
    assert row[1].startswith("SCRAM-SHA-256$")
    assert password not in row[1]
    # Connected as the user itself (the local cluster trusts loopback): reads, cannot write.
    user_dsn = dbs["warehouse"].replace(f"{pg_services.pg_user}@", "regreport_auditor_user@")
    with psycopg.connect(user_dsn, autocommit=True) as conn:
        assert conn.execute("select count(*) from reports.rpt").fetchone()[0] == 1
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(errors.ReadOnlySqlTransaction):
            conn.execute("create temp table t (id int)")
    with pytest.raises(ValueError, match="unknown role"):
        roles.ensure_roles(admin, wh_name, src_name, {"superuser": "x"})


def test_report_role_appends_to_the_real_audit_log(dbs: dict[str, str], as_role) -> None:
    """With `regreport.audit`'s own table: record works as the report role, rewriting does not."""
    from regreport import audit

    with psycopg.connect(dbs["warehouse"]) as conn:
        conn.execute("drop table regreport.audit_log")  # the stand-in
        audit.ensure_schema(conn)
        conn.commit()
    wh_name = psycopg.conninfo.conninfo_to_dict(dbs["warehouse"])["dbname"]
    src_name = psycopg.conninfo.conninfo_to_dict(dbs["source"])["dbname"]
    roles.ensure_roles(dbs["warehouse"], wh_name, src_name, None)
    with as_role(dbs["warehouse"], roles.REPORT) as wh:
        audit.record(wh, action="test", actor="test_roles", object_type="role_check")
        audit.record(wh, action="test", actor="test_roles", object_type="role_check")
        assert audit.verify(wh).ok
        _refused(wh, "update regreport.audit_log set actor = 'someone else'")
        _refused(wh, "delete from regreport.audit_log")
        _refused(wh, "truncate regreport.audit_log")
    with as_role(dbs["warehouse"], roles.AUDITOR) as wh:
        assert wh.execute("select count(*) from regreport.audit_log").fetchone()[0] == 2
        _refused(wh, "insert into regreport.audit_log select * from regreport.audit_log")


def test_pipeline_roles_use_the_platform_tables_without_owning_them(
    pg_services: Settings, scratch_db: Callable[[str], str], as_role
) -> None:
    """The admin's setup makes every platform table; each stage's `ensure_schema` is then a
    read, and a DDL newer than the warehouse names the command instead of failing bare."""
    from regreport import ddl, gate, holds, reconciliation, registry, transmit

    suffix = uuid.uuid4().hex[:8]
    wh_name, src_name = f"roles_ddl_wh_{suffix}", f"roles_ddl_src_{suffix}"
    warehouse = scratch_db(wh_name)
    scratch_db(src_name)
    applied = ddl.setup(warehouse)
    assert {"registry", "ledger", "submissions", "transmit", "reconciliation", "holds"} <= set(
        applied
    )
    assert ddl.setup(warehouse) == []  # idempotent: nothing to apply the second time
    roles.ensure_roles(pg_services.dsn("postgres"), wh_name, src_name, None)
    with as_role(warehouse, roles.REPORT) as wh:
        for module in (registry, transmit, reconciliation, holds):
            module.ensure_schema(wh)
        _refused(wh, "insert into regreport.schema_versions values ('x', 'y')")
    with as_role(warehouse, roles.TRANSFORM) as wh:
        gate.ensure_schema(wh)
        with pytest.raises(ddl.SchemaOutdatedError, match="regreport db setup"):
            ddl.ensure(wh, "rule_violations", gate.DDL + "\n-- a newer release")


def test_a_source_schema_made_after_the_roles_is_granted(
    pg_services: Settings, scratch_db: Callable[[str], str], as_role
) -> None:
    """On a fresh install the roles come before the first generated day; a layout change
    drops and recreates the schema. Either way the extract role can read it afterwards."""
    from regreport import generator

    suffix = uuid.uuid4().hex[:8]
    wh_name, src_name = f"roles_src_wh_{suffix}", f"roles_src_src_{suffix}"
    scratch_db(wh_name)
    source = scratch_db(src_name)
    roles.ensure_roles(pg_services.dsn("postgres"), wh_name, src_name, None)
    for recreate in (False, True):
        with psycopg.connect(source) as conn:
            if recreate:
                conn.execute("drop schema qsuite cascade")
            generator.create_schema(conn)
        with as_role(source, roles.EXTRACT) as src:
            _allowed(src, "select * from qsuite.accounts")
            _refused(src, "insert into qsuite.algos values ('X', 'x')")
        with as_role(source, roles.AUDITOR) as src:
            _allowed(src, "select * from qsuite.executions")
