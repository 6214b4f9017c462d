"""Period leases: one run at a time builds and files a given period.

Airflow runs a DAG's scheduled run, a backfill run and a manual "report date" run of the same
day as three different runs, and may run them at once. Each step is idempotent, but a render
that diffed against the ledger before another run registered its file would send the same
transactions twice. So the report DAGs hold a lease on their period from before the extract
until the file is submitted: `claim_period` waits (rescheduling, without holding a worker)
while another run holds it, and `release_period` runs as a teardown, whether the run
succeeded or failed.

A lease expires after `DEFAULT_TTL` (a crashed worker cannot block a period for ever); its
holder renews it by claiming again. `regreport leases list|release` shows and breaks leases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from regreport import ddl

if TYPE_CHECKING:
    import psycopg

SCHEMA = "regreport"
TABLE = f"{SCHEMA}.period_leases"
#: How long a lease lasts without renewal: longer than any run's build-to-submit stretch.
DEFAULT_TTL = timedelta(hours=6)

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    scope           text not null,
    period_start    date not null,
    holder          text not null,
    acquired_at     timestamptz not null,
    expires_at      timestamptz not null,
    primary key (scope, period_start)
);
"""


@dataclass(frozen=True)
class Lease:
    """Who holds a period, since when and until when."""

    scope: str
    period_start: date
    holder: str
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
    period_start: date,
    holder: str,
    *,
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
        f"""insert into {TABLE} as l (scope, period_start, holder, acquired_at, expires_at)
            values (%s, %s, %s, %s, %s)
            on conflict (scope, period_start) do update
                set holder = excluded.holder,
                    acquired_at = case when l.holder = excluded.holder then l.acquired_at
                                       else excluded.acquired_at end,
                    expires_at = excluded.expires_at
                where l.holder = excluded.holder or l.expires_at <= excluded.acquired_at
            returning scope, period_start, holder, acquired_at, expires_at""",
        (scope, period_start, holder, now, now + ttl),
    ).fetchone()
    conn.commit()
    return Lease(*row) if row else None


def current(conn: psycopg.Connection[Any], scope: str, period_start: date) -> Lease | None:
    """The lease on the period, expired or not (None if nobody holds one)."""
    ensure_schema(conn)
    row = conn.execute(
        f"""select scope, period_start, holder, acquired_at, expires_at from {TABLE}
            where scope = %s and period_start = %s""",
        (scope, period_start),
    ).fetchone()
    return Lease(*row) if row else None


def release(
    conn: psycopg.Connection[Any], scope: str, period_start: date, holder: str | None
) -> bool:
    """Give the lease up (only `holder`'s; None breaks anyone's). Commits.

    Returns:
        True if a lease was removed.
    """
    ensure_schema(conn)
    if holder is None:
        cur = conn.execute(
            f"delete from {TABLE} where scope = %s and period_start = %s", (scope, period_start)
        )
    else:
        cur = conn.execute(
            f"delete from {TABLE} where scope = %s and period_start = %s and holder = %s",
            (scope, period_start, holder),
        )
    conn.commit()
    return cur.rowcount > 0


def list_leases(conn: psycopg.Connection[Any]) -> list[Lease]:
    """Every lease, by scope and period."""
    ensure_schema(conn)
    rows = conn.execute(
        f"""select scope, period_start, holder, acquired_at, expires_at from {TABLE}
            order by scope, period_start"""
    ).fetchall()
    return [Lease(*r) for r in rows]
