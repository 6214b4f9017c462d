"""Audit-log adapters for Airflow: who triggered a run, and how each task ended.

The domain steps (`regreport.pipeline`, `regreport.transmit`) write their own entries (extract,
rules, validation, render, archive, register, submit, feedback). What only Airflow knows is
recorded here: the run's trigger, with the Airflow user who triggered it (or the scheduler) and
the parameters, and every task's success or failure (this covers the dbt tasks Cosmos runs).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

#: The actor of entries about Airflow's own work (the scheduler and the workers).
AIRFLOW_ACTOR = "airflow"


def _warehouse_dsn() -> str:
    from regreport import config
    from regreport.hooks.connections import postgres_dsn

    return postgres_dsn(config.WAREHOUSE_CONN_ID)


def record_run_trigger(context: Context) -> dict[str, Any]:
    """Record "run.triggered": who (Airflow user, or the scheduler), how, for what, with what."""
    from regreport import audit

    dag_run = context["dag_run"]
    user = getattr(dag_run, "triggering_user_name", None)
    run_type = getattr(dag_run, "run_type", "")
    after = {
        # The enum's value ("backfill", "manual", "scheduled"), not its repr.
        "run_type": str(getattr(run_type, "value", run_type) or ""),
        "logical_date": context.get("logical_date"),
        "data_interval_start": context.get("data_interval_start"),
        "data_interval_end": context.get("data_interval_end"),
        "params": dict(context.get("params") or {}),
        "conf": dict(getattr(dag_run, "conf", None) or {}),
    }
    entry = audit.record_dsn(
        _warehouse_dsn(),
        action="run.triggered",
        actor=user or AIRFLOW_ACTOR,
        object_type="dag_run",
        object_id=f"{dag_run.dag_id}/{context['run_id']}",
        run_id=context["run_id"],
        after=after,
    )
    return {"audit_seq": entry.seq, "actor": user or AIRFLOW_ACTOR}


def _record_task(context: Context, action: str, extra: dict[str, Any]) -> None:
    from regreport import audit

    ti = context["ti"]
    try:
        audit.record_dsn(
            _warehouse_dsn(),
            action=action,
            actor=AIRFLOW_ACTOR,
            object_type="task",
            object_id=f"{ti.dag_id}.{ti.task_id}",
            run_id=context["run_id"],
            request_id=str(getattr(ti, "id", "") or "") or None,
            after={"try_number": ti.try_number, "map_index": ti.map_index, **extra},
        )
    except Exception:  # a callback cannot fail its task: say it loudly instead
        log.exception("could not write the audit entry %s for %s", action, ti.task_id)


def audit_task_success(context: Context) -> None:
    """Task callback: record "task.success"."""
    _record_task(context, "task.success", {})


def audit_task_failure(context: Context) -> None:
    """Task callback: record "task.failed" with the error's type (its text may hold data)."""
    exc = context.get("exception")
    _record_task(context, "task.failed", {"error": type(exc).__name__ if exc else None})


def record_trigger_task() -> Any:
    """The `record_trigger` task, first in every DAG: `record_run_trigger` for the run."""
    from airflow.sdk import get_current_context, task

    @task(task_id="record_trigger")
    def record_trigger() -> dict[str, Any]:
        """Audit who triggered this run (Airflow user or scheduler), how, and with what."""
        return record_run_trigger(get_current_context())

    return record_trigger()
