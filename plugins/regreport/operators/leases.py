"""`claim_period` / `release_period`: the Airflow side of `regreport.leases`.

`period_lease(period)` returns the two tasks, on the warehouse build lease. `claim_period` is
a sensor in reschedule mode: while another run holds the lease it frees its worker slot and
pokes again every `poke_seconds`, logging who holds it and for which period; after `timeout`
it fails (and alerts). `release_period` is a teardown: it runs when the work between the two
is done, whether that succeeded or failed, and releases only this run's lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from airflow.sdk import PokeReturnValue, get_current_context, task

log = logging.getLogger(__name__)


def _holder() -> str:
    ctx = get_current_context()
    return f"{ctx['dag'].dag_id}/{ctx['run_id']}"


def _finished(holder: str) -> bool:
    """Whether the holder's DAG run (``dag_id/run_id``) is over, as Airflow knows it."""
    dag_id, _, run_id = holder.partition("/")
    try:
        state = get_current_context()["ti"].get_dagrun_state(dag_id, run_id)
    except Exception:  # noqa: BLE001 - unknown: keep waiting, the lease expires anyway
        log.info("could not read the state of %s; waiting", holder)
        return False
    return str(getattr(state, "value", state)) in ("success", "failed")


def _warehouse_dsn() -> str:
    from regreport import config
    from regreport.hooks.connections import postgres_dsn

    return postgres_dsn(config.WAREHOUSE_CONN_ID)


def period_lease(
    period: Callable[[], date],
    *,
    scope: str | None = None,
    poke_seconds: int = 30,
    timeout: timedelta = timedelta(hours=6),
) -> tuple[Any, Any]:
    """The (claim, release) tasks; `period()` (called in the task) names what the run builds."""
    from regreport.leases import WAREHOUSE_BUILD

    scope = scope or WAREHOUSE_BUILD

    @task.sensor(
        task_id="claim_period",
        poke_interval=poke_seconds,
        timeout=timeout.total_seconds(),
        mode="reschedule",
    )
    def claim_period() -> PokeReturnValue:
        """Take the build lease, or wait while another run holds it."""
        import psycopg

        from regreport import leases

        day, holder = period(), _holder()
        with psycopg.connect(_warehouse_dsn()) as conn:
            got = leases.acquire(conn, scope, holder, period_start=day)
            other = leases.current(conn, scope) if got is None else None
            if other is not None and _finished(other.holder):
                # Its run ended without its teardown (marked failed by hand, say).
                log.warning("%s: %s has finished; taking its lease over", scope, other.holder)
                leases.release(conn, scope, other.holder)
                got = leases.acquire(conn, scope, holder, period_start=day)
            if got is None:
                other = leases.current(conn, scope)
                log.warning(
                    "%s: %s is building %s (lease until %s); %s waits",
                    scope,
                    other.holder if other else "another run",
                    other.period_start if other else "?",
                    other.expires_at if other else "?",
                    day,
                )
                return PokeReturnValue(is_done=False)
        log.info("%s: lease taken by %s for %s until %s", scope, holder, day, got.expires_at)
        return PokeReturnValue(is_done=True, xcom_value={"scope": scope, "period": str(day)})

    @task(task_id="release_period")
    def release_period() -> bool:
        """Give this run's lease back (another run's lease is left alone)."""
        import psycopg

        from regreport import leases

        holder = _holder()
        with psycopg.connect(_warehouse_dsn()) as conn:
            released = leases.release(conn, scope, holder)
        log.info("%s: lease %s", scope, "released" if released else "not held by this run")
        return released

    return claim_period(), release_period()
