"""Build leases: one run at a time builds the warehouse's report tables and files from them.

Airflow runs a DAG's scheduled run, a backfill run and a manual "report date" run as different
runs, and runs them at once (`max_active_runs` does not count one kind against the other), and
the MiFIR and periodic DAGs are different DAGs. But they share the warehouse: the dbt staging,
intermediate and mart tables are rebuilt for the period being built, and a run reading them
while another run rebuilds them for another day reads the wrong day (seen in a test: a day's
report came out empty, and the reconciliation stopped it). Two runs of the same day could also
both diff against the ledger before either registered its file, and send the same
transactions twice.

So every report DAG holds the lease of one scope (`WAREHOUSE_BUILD`) from before its extract
until its files are registered (MiFIR: submitted): `claim_period` waits, rescheduling without
holding a worker, while another run holds it; `release_period` runs as a teardown, whether the
run succeeded or failed. The lease records the period its holder is building, for people.

A lease expires after `DEFAULT_TTL` (a crashed worker cannot block the warehouse for ever);
its holder renews it by claiming again. `regreport leases list|release` shows and breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from regreport import ddl

if TYPE_CHECKING:
    import psycopg

SCHEMA = "regreport"
TABLE = f"{SCHEMA}.build_leases"
#: The scope every report DAG's build takes.
WAREHOUSE_BUILD = "warehouse_build"
#: How long a lease lasts without renewal: longer than any run's build-to-submit stretch.
DEFAULT_TTL = timedelta(hours=6)

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    scope           text primary key,
    holder          text not null,
    period_start    date,
    acquired_at     timestamptz not null,
    expires_at      timestamptz not null
);
"""


@dataclass(frozen=True)
class Lease:
    """Who holds a scope, for which period, since when and until when."""

    scope: str
    holder: str
    period_start: date | None
    acquired_at: datetime
    expires_at: datetime


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create ``regreport.period_leases`` if needed (see `regreport.ddl.ensure`)."""
    ddl.ensure(conn, "leases", DDL)


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(tz=UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def acquire(
    conn: psycopg.Connection[Any],
    scope: str,
    holder: str,
    *,
    period_start: date | None = None,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> Lease | None:
    """Take or renew the lease; None if another holder has it. Commits.

    One statement decides, so concurrent claimants cannot both win: the row is inserted, or
    updated only when this holder already has it or it expired.
    """
    now = _now(now)
    ensure_schema(conn)
    row = conn.execute(
        f"""insert into {TABLE} as l (scope, holder, period_start, acquired_at, expires_at)
            values (%s, %s, %s, %s, %s)
            on conflict (scope) do update
                set holder = excluded.holder,
                    period_start = excluded.period_start,
                    acquired_at = case when l.holder = excluded.holder then l.acquired_at
                                       else excluded.acquired_at end,
                    expires_at = excluded.expires_at
                where l.holder = excluded.holder or l.expires_at <= excluded.acquired_at
            returning scope, holder, period_start, acquired_at, expires_at""",
        (scope, holder, period_start, now, now + ttl),
    ).fetchone()
    conn.commit()
    return Lease(*row) if row else None


def current(conn: psycopg.Connection[Any], scope: str) -> Lease | None:
    """The lease on the scope, expired or not (None if nobody holds one)."""
    ensure_schema(conn)
    row = conn.execute(
        f"""select scope, holder, period_start, acquired_at, expires_at from {TABLE}
            where scope = %s""",
        (scope,),
    ).fetchone()
    return Lease(*row) if row else None


def release(conn: psycopg.Connection[Any], scope: str, holder: str | None) -> bool:
    """Give the lease up (only `holder`'s; None breaks anyone's). Commits.

    Returns:
        True if a lease was removed.
    """
    ensure_schema(conn)
    if holder is None:
        cur = conn.execute(f"delete from {TABLE} where scope = %s", (scope,))
    else:
        cur = conn.execute(f"delete from {TABLE} where scope = %s and holder = %s", (scope, holder))
    conn.commit()
    return cur.rowcount > 0


def list_leases(conn: psycopg.Connection[Any]) -> list[Lease]:
    """Every lease, by scope."""
    ensure_schema(conn)
    rows = conn.execute(
        f"""select scope, holder, period_start, acquired_at, expires_at from {TABLE}
            order by scope"""
    ).fetchall()
    return [Lease(*r) for r in rows]
