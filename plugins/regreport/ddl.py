"""The platform's own tables: created by the database admin, only used by the pipeline roles.

Each module keeps its DDL next to the code that reads and writes the tables (`registry.DDL`,
`ledger.DDL`, ...) and calls its `ensure_schema` before use. The pipeline's roles may not
create or alter tables (see `regreport.roles`), so `ensure` runs a DDL only when
``regreport.schema_versions`` does not already hold its SHA-256: on a warehouse that `setup`
has prepared (``regreport services start`` does it, as the admin) every `ensure_schema` is two
cheap reads. After an upgrade that changed a DDL, a pipeline role meets `SchemaOutdatedError`,
which names the command to run, instead of a bare "permission denied".
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import psycopg

log = logging.getLogger(__name__)

SCHEMA = "regreport"
VERSIONS_TABLE = f"{SCHEMA}.schema_versions"
VERSIONS_DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {VERSIONS_TABLE} (
    name        text primary key,
    ddl_sha256  char(64) not null,
    applied_at  timestamptz not null default now()
);
"""
_LOCK = "regreport.ddl"


class SchemaOutdatedError(RuntimeError):
    """A platform table is missing or older than this release, and this role may not fix it."""


def digest(ddl: str) -> str:
    """The SHA-256 a DDL text is recorded under."""
    return hashlib.sha256(ddl.encode("utf-8")).hexdigest()


def _recorded(conn: psycopg.Connection[Any], name: str) -> str | None:
    row = conn.execute("select to_regclass(%s) is not null", (VERSIONS_TABLE,)).fetchone()
    if row is None or not row[0]:
        return None
    found = conn.execute(
        f"select ddl_sha256 from {VERSIONS_TABLE} where name = %s", (name,)
    ).fetchone()
    return str(found[0]) if found else None


def ensure(conn: psycopg.Connection[Any], name: str, ddl: str) -> bool:
    """Apply `ddl` (idempotent statements) unless this exact text was applied already.

    Runs in the caller's transaction. The DDL must be safe to run again (``if not exists``),
    since a table made by an older release is brought up to date by the same text.

    Args:
        conn: A connection to the warehouse.
        name: The DDL's name in ``regreport.schema_versions`` (one per module).
        ddl: The statements.

    Returns:
        True if the DDL ran, False if it was already in place.

    Raises:
        SchemaOutdatedError: The DDL has to run and this connection's role may not run it.
    """
    wanted = digest(ddl)
    if _recorded(conn, name) == wanted:
        return False
    try:
        # Concurrent first runs must not race on the catalog (duplicate type names).
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
        if _recorded(conn, name) == wanted:
            return False
        conn.execute(VERSIONS_DDL)
        conn.execute(ddl)  # type: ignore[arg-type] - packaged, trusted DDL
        conn.execute(
            f"""insert into {VERSIONS_TABLE} (name, ddl_sha256) values (%s, %s)
                on conflict (name) do update
                set ddl_sha256 = excluded.ddl_sha256, applied_at = now()""",
            (name, wanted),
        )
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conn.info.user
        raise SchemaOutdatedError(
            f"the warehouse tables for {name!r} are missing or older than this release, and "
            f"{user!r} may not create or alter them (least privilege). Run "
            "`regreport db setup` (or `regreport services start`) as the database admin, "
            "then retry."
        ) from exc
    log.info("platform tables %r created or upgraded (ddl %s)", name, wanted[:12])
    return True


def setup(admin_dsn: str) -> list[str]:
    """Create or upgrade every platform table in the warehouse, as its owner; idempotent.

    Run before `regreport.roles.ensure_roles`, so the grants cover every table.

    Args:
        admin_dsn: The warehouse, as a role that may create tables in the ``regreport``
            schema (the local cluster's superuser).

    Returns:
        The names of the DDLs that ran (empty when everything was in place).
    """
    from regreport import (
        alerts,
        audit,
        gate,
        holds,
        leases,
        reconciliation,
        refdata,
        registry,
        runlog,
        transmit,
    )
    from regreport.risk import store as risk_store

    with psycopg.connect(admin_dsn) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
        before = _applied(conn)
        registry.ensure_schema(conn)
        transmit.ensure_schema(conn)
        reconciliation.ensure_schema(conn)
        holds.ensure_schema(conn)
        gate.ensure_schema(conn)
        audit.ensure_schema(conn)
        risk_store.ensure_schema(conn)
        alerts.ensure_schema(conn)
        runlog.ensure_schema(conn)
        leases.ensure_schema(conn)
        refdata.ensure_schema(conn)
        after = _applied(conn)
        conn.commit()
    return sorted(name for name, sha in after.items() if before.get(name) != sha)


def _applied(conn: psycopg.Connection[Any]) -> dict[str, str]:
    row = conn.execute("select to_regclass(%s) is not null", (VERSIONS_TABLE,)).fetchone()
    if row is None or not row[0]:
        return {}
    return {r[0]: r[1] for r in conn.execute(f"select name, ddl_sha256 from {VERSIONS_TABLE}")}
