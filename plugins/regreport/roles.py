"""Least-privilege PostgreSQL roles: one group role per pipeline stage, plus a read-only auditor.

Four ``NOLOGIN`` group roles carry the privileges (``sql/roles.sql``); a ``LOGIN`` user
``<role>_user`` that inherits from its group is made only when a password is supplied, so a
deployment that authenticates otherwise (certificates, IAM) never gets a password-bearing role
it did not ask for. Passwords come from the environment (`passwords_from_env`), are hashed
to a SCRAM verifier on the client (libpq's ``PQencryptPasswordConn``) and so never reach the
server, its statement log or an error message in clear text.

`ensure_roles` is idempotent and cheap: run it after the databases exist and again whenever
the pipeline has created new tables (grants on existing tables are refreshed; default
privileges cover tables created later). The append-only audit tables (``regreport.audit*``)
get insert+select only for the reporting role, whatever order things were created in.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

EXTRACT = "regreport_extract"
TRANSFORM = "regreport_transform"
REPORT = "regreport_report"
AUDITOR = "regreport_auditor"
#: The group roles, in pipeline order.
ROLES: tuple[str, ...] = (EXTRACT, TRANSFORM, REPORT, AUDITOR)
#: Which databases each role may connect to ("warehouse", "source").
_DATABASES = {
    EXTRACT: ("warehouse", "source"),
    TRANSFORM: ("warehouse",),
    REPORT: ("warehouse",),
    AUDITOR: ("warehouse", "source"),
}
#: Environment variable holding the login password of each role's user.
PASSWORD_ENV = {role: f"REGREPORT_DB_PASSWORD_{role.removeprefix('regreport_').upper()}"
                for role in ROLES}  # fmt: skip
_LOCK = "regreport.roles"


def login_user(role: str) -> str:
    """The LOGIN user that inherits `role`'s privileges (``regreport_report_user``)."""
    return f"{role}_user"


def passwords_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Login passwords found in the environment (``REGREPORT_DB_PASSWORD_<STAGE>``).

    Only the variables that are set (and non-empty) appear, so roles without one get no
    login user. The values are secrets: never log the result.
    """
    env = os.environ if environ is None else environ
    return {role: env[name] for role, name in PASSWORD_ENV.items() if env.get(name)}


def _script(section: str) -> str:
    """One section (``warehouse``, ``source``, ``every-database``) of ``sql/roles.sql``."""
    text = resources.files("regreport").joinpath("sql/roles.sql").read_text("utf-8")
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("-- @"):
            current = parts.setdefault(line.removeprefix("-- @").strip(), [])
        elif current is not None:
            current.append(line)
    return "\n".join(parts[section])


def _normalise(passwords: Mapping[str, str] | None) -> dict[str, str]:
    """Accept role names (``regreport_report``) or stage names (``report``) as keys."""
    out: dict[str, str] = {}
    for key, value in (passwords or {}).items():
        role = key if key.startswith("regreport_") else f"regreport_{key}"
        if role not in ROLES:
            raise ValueError(f"unknown role {key!r}; expected one of {', '.join(ROLES)}")
        if value:
            out[role] = value
    return out


def _ensure_role(conn: psycopg.Connection, name: str, *, login: bool) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    ident = sql.Identifier(name)
    if not exists:
        conn.execute(
            sql.SQL("create role {} {}").format(ident, sql.SQL("login" if login else "nologin"))
        )
    # Re-asserted every run: undoes any widening done by hand since.
    conn.execute(
        sql.SQL(
            "alter role {} {} inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls"
        ).format(ident, sql.SQL("login" if login else "nologin"))
    )


def _set_password(conn: psycopg.Connection, user: str, password: str) -> None:
    """Store a SCRAM verifier computed here: the clear-text password never leaves the client."""
    verifier = conn.pgconn.encrypt_password(
        password.encode(), user.encode(), b"scram-sha-256"
    ).decode()
    conn.execute(
        sql.SQL("alter role {} password {}").format(sql.Identifier(user), sql.Literal(verifier))
    )


def _cluster(admin_dsn: str, databases: dict[str, str], passwords: dict[str, str]) -> None:
    """Roles, login users and CONNECT grants (cluster-wide objects)."""
    with psycopg.connect(admin_dsn) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
        for role in ROLES:
            _ensure_role(conn, role, login=False)
            for db in _DATABASES[role]:
                conn.execute(
                    sql.SQL("grant connect, temporary on database {} to {}").format(
                        sql.Identifier(databases[db]), sql.Identifier(role)
                    )
                )
            password = passwords.get(role)
            if password is None:
                continue
            user = login_user(role)
            _ensure_role(conn, user, login=True)
            conn.execute(
                sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(user))
            )
            _set_password(conn, user, password)
            # Sessions act as the group role, so what the user creates (raw landings, dbt
            # relations) is owned by the group and covered by its default privileges.
            conn.execute(
                sql.SQL("alter role {} set role = {}").format(
                    sql.Identifier(user), sql.Literal(role)
                )
            )
            if role == AUDITOR:
                # Belt and braces: the auditor's sessions start read-only.
                conn.execute(
                    sql.SQL("alter role {} set default_transaction_read_only = on").format(
                        sql.Identifier(user)
                    )
                )


def grant_source(conn: psycopg.Connection[Any]) -> bool:
    """Grant the QSuite source schema to the extract and auditor roles, in `conn`'s database.

    Grants die with the schema: whoever (re)creates ``qsuite`` (the synthetic generator does,
    as the admin) calls this right after. A no-op, returning False, where the roles were never
    created (the generator used on its own).
    """
    present = conn.execute(
        "select count(*) from pg_roles where rolname = any(%s)", (list(ROLES),)
    ).fetchone()
    if present is None or present[0] < len(ROLES):
        return False
    script = _script("source") + "\n" + _script("every-database")
    conn.execute(script)  # type: ignore[arg-type] - packaged, trusted script
    return True


def _with_database(admin_dsn: str, database: str) -> str:
    """The admin DSN pointed at another database of the same cluster."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = database
    return make_conninfo(**params)


def ensure_roles(
    admin_dsn: str,
    warehouse_db: str,
    source_db: str,
    passwords: Mapping[str, str] | None = None,
) -> list[str]:
    """Create (or refresh) the RegReport roles and their grants; idempotent.

    Args:
        admin_dsn: libpq DSN of a role that owns the schemas and may create roles (the local
            cluster's superuser); any database of the cluster.
        warehouse_db: The warehouse database (raw, dbt schemas, regreport).
        source_db: The QSuite source database (schema ``qsuite``; granted only if present).
        passwords: Login passwords by role (``regreport_report`` or ``report``); a login user
            ``<role>_user`` is created, or its password changed, only for the roles given.
            Secrets: they are never logged.

    Returns:
        The login users that were created or had their password set.
    """
    given = _normalise(passwords)
    _cluster(admin_dsn, {"warehouse": warehouse_db, "source": source_db}, given)
    for section, database in (("warehouse", warehouse_db), ("source", source_db)):
        with psycopg.connect(_with_database(admin_dsn, database)) as conn:
            script = _script(section) + "\n" + _script("every-database")
            conn.execute(script)  # type: ignore[arg-type] - packaged, trusted script
    users = [login_user(role) for role in ROLES if role in given]
    log.info("database roles ensured: %s; login users: %s", ", ".join(ROLES), users or "none")
    return users
