"""Build leases on real PostgreSQL: one holder at a time, renewal, expiry, concurrent claims."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
import pytest

from regreport import leases
from regreport.leases import WAREHOUSE_BUILD

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.integration

DB = "leases_test_regreport"
DAY = date(2026, 11, 27)
T0 = datetime(2026, 11, 30, 6, tzinfo=UTC)
A = "mifir_transactions_daily/scheduled__2026-11-30T06:00:00+00:00"
B = "periodic_reports_daily/backfill__2026-11-03T02:00:00+00:00"


@pytest.fixture
def dsn(scratch_db: Callable[[str], str]) -> str:
    made = scratch_db(DB)
    with psycopg.connect(made) as conn:
        leases.ensure_schema(conn)
        conn.commit()
    return made


def test_one_holder_at_a_time(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        got = leases.acquire(conn, WAREHOUSE_BUILD, A, period_start=DAY, now=T0)
        assert got is not None
        assert (got.holder, got.period_start, got.acquired_at, got.expires_at) == (
            A, DAY, T0, T0 + leases.DEFAULT_TTL,
        )  # fmt: skip
        # Another run, of another day or DAG, waits: the warehouse tables are shared.
        later = T0 + timedelta(minutes=1)
        other_day = date(2026, 11, 2)
        assert leases.acquire(conn, WAREHOUSE_BUILD, B, period_start=other_day, now=later) is None
        # Another scope is free.
        assert leases.acquire(conn, "other_scope", B, now=T0)
        # The holder renews: same start, later expiry.
        renewed = leases.acquire(
            conn, WAREHOUSE_BUILD, A, period_start=DAY, now=T0 + timedelta(hours=1)
        )
        assert renewed is not None
        assert renewed.acquired_at == T0
        assert renewed.expires_at == T0 + timedelta(hours=1) + leases.DEFAULT_TTL
        # Only the holder's release counts; then the other run gets it.
        assert leases.release(conn, WAREHOUSE_BUILD, B) is False
        assert leases.current(conn, WAREHOUSE_BUILD).holder == A  # type: ignore[union-attr]
        assert leases.release(conn, WAREHOUSE_BUILD, A) is True
        got_b = leases.acquire(conn, WAREHOUSE_BUILD, B, period_start=other_day, now=later)
        assert got_b is not None
        assert got_b.period_start == other_day


def test_an_expired_lease_is_taken_over(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        assert leases.acquire(conn, WAREHOUSE_BUILD, A, ttl=timedelta(minutes=10), now=T0)
        assert leases.acquire(conn, WAREHOUSE_BUILD, B, now=T0 + timedelta(minutes=9)) is None
        taken = leases.acquire(conn, WAREHOUSE_BUILD, B, now=T0 + timedelta(minutes=10))
        assert taken is not None
        assert (taken.holder, taken.acquired_at) == (B, T0 + timedelta(minutes=10))
        # The crashed run's teardown, arriving late, cannot release the new holder's lease.
        assert leases.release(conn, WAREHOUSE_BUILD, A) is False
        assert [lease.holder for lease in leases.list_leases(conn)] == [B]
        # An operator may break it (regreport leases release).
        assert leases.release(conn, WAREHOUSE_BUILD, None) is True
        assert leases.list_leases(conn) == []


def test_concurrent_claims_have_one_winner(dsn: str) -> None:
    holders = [f"run-{i}" for i in range(8)]
    won: list[str] = []
    barrier = threading.Barrier(len(holders))

    def claim(holder: str) -> None:
        with psycopg.connect(dsn) as conn:
            barrier.wait()
            if leases.acquire(conn, WAREHOUSE_BUILD, holder, now=T0):
                won.append(holder)

    threads = [threading.Thread(target=claim, args=(h,)) for h in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    with psycopg.connect(dsn) as conn:
        assert leases.current(conn, WAREHOUSE_BUILD).holder == won[0]  # type: ignore[union-attr]


def test_naive_times_are_refused(dsn: str) -> None:
    with psycopg.connect(dsn) as conn, pytest.raises(ValueError, match="timezone-aware"):
        leases.acquire(conn, WAREHOUSE_BUILD, A, now=datetime(2026, 11, 30, 6))  # noqa: DTZ001
