"""Task callbacks shared by every DAG: log context, run metrics, audit entries, failure alerts.

`task_callbacks(report)` goes into a DAG's ``default_args``. For each task it

- binds the run id, report and period to the ``regreport`` loggers before the task runs
  (`regreport.runlog.bind`), so every log line says which run, report and period it is about;
- records the task's outcome, duration and record counts in ``regreport.run_metrics``;
- writes the audit entries ``task.success`` / ``task.failed`` (`regreport.operators.audit`);
- on a final failure (no retries left), raises a ``task_failed`` alert with the report, the
  period and the reason through the configured notifiers (`regreport.alerts`).

A callback never fails its task: a metrics or alert problem is logged loudly instead, since
the task's own outcome is what Airflow must act on.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from regreport.operators.audit import audit_task_failure, audit_task_success

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

#: Report types a task id may end with (`render_positions` is about `positions`).
_TASK_REPORTS = (
    "execution_quality_quarterly",
    "large_trader_monthly",
    "large_trader_daily",
    "execution_quality",
    "daily_trading",
    "risk_limits",
    "positions",
)
#: Longest failure reason sent in an alert (the log has the rest).
_REASON_MAX = 500


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    text = str(value)
    if len(text) == 7:  # YYYY-MM (report_month)
        text += "-01"
    return date.fromisoformat(text[:10])


def period_of(context: Context) -> tuple[date | None, date | None]:
    """The reporting period a run is about: its parameters, else its data interval."""
    params = dict(context.get("params") or {})
    if params.get("report_date"):
        start = _as_date(params["report_date"])
        return start, start
    if params.get("report_month"):
        start = _as_date(params["report_month"])
        assert start is not None  # noqa: S101 - checked just above
        nxt = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return start, date.fromordinal(nxt.toordinal() - 1)
    if params.get("report_quarter"):
        from regreport.calendar import quarter_period

        year, _, quarter = str(params["report_quarter"]).partition("-Q")
        period = quarter_period(date(int(year), (int(quarter) - 1) * 3 + 1, 1))
        return period.start, period.last_day
    if params.get("date_from"):
        return _as_date(params["date_from"]), _as_date(params.get("date_to") or params["date_from"])
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        return None, None
    first, after = _as_date(start), _as_date(end)
    if first is None or after is None:
        return None, None
    last = date.fromordinal(after.toordinal() - 1) if after > first else first
    return first, last


def report_of(task_id: str, report: str) -> str:
    """The report a task is about: the suffix of a per-report task, else the DAG's."""
    leaf = task_id.rsplit(".", 1)[-1]
    for name in _TASK_REPORTS:
        if leaf.endswith(f"_{name}"):
            return name
    return report


def _label(first: date | None, last: date | None) -> str:
    if first is None:
        return ""
    if last is None or last == first:
        return first.isoformat()
    return f"{first.isoformat()}..{last.isoformat()}"


def _bind(report: str, context: Context) -> None:
    from regreport import runlog

    ti = context["ti"]
    first, last = period_of(context)
    runlog.bind(run_id=context["run_id"], report=report_of(ti.task_id, report),
                period=_label(first, last))  # fmt: skip


def _warehouse_dsn() -> str:
    from regreport import config
    from regreport.hooks.connections import postgres_dsn

    return postgres_dsn(config.WAREHOUSE_CONN_ID)


def _metric(report: str, context: Context, state: str, error: str | None) -> None:
    import psycopg

    from regreport import runlog

    ti = context["ti"]
    result = None
    if state == "success":
        try:
            result = ti.xcom_pull(task_ids=ti.task_id, key="return_value")
        except Exception:  # noqa: BLE001 - counts are a bonus; the row is what matters
            result = None
    records_in, records_out, quarantined, details = runlog.step_counts(result)
    first, last = period_of(context)
    started = getattr(ti, "start_date", None)
    metric = runlog.StepMetric(
        run_id=context["run_id"],
        dag_id=ti.dag_id,
        step=ti.task_id,
        try_number=int(getattr(ti, "try_number", 1) or 1),
        report=report_of(ti.task_id, report),
        period_start=first,
        period_end=last,
        state=state,
        started_at=started if isinstance(started, datetime) else None,
        finished_at=datetime.now(tz=UTC),
        records_in=records_in,
        records_out=records_out,
        quarantined=quarantined,
        error=error,
        details=details,
    )
    with psycopg.connect(_warehouse_dsn()) as conn:
        runlog.record(conn, metric)
        conn.commit()
    log.info(
        "step %s %s in %ss (in=%s out=%s quarantined=%s)",
        ti.task_id,
        state,
        metric.duration_s,
        records_in,
        records_out,
        quarantined,
        extra={"step": ti.task_id, "state": state, "records_in": records_in,
               "records_out": records_out, "quarantined": quarantined},
    )  # fmt: skip


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "the task failed (no exception was passed to the callback)"
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > _REASON_MAX:
        text = text[: _REASON_MAX - 1] + "…"
    return f"{type(exc).__name__}: {text}"


def _alert(report: str, context: Context) -> None:
    from regreport import alerts

    ti = context["ti"]
    first, last = period_of(context)
    alert = alerts.Alert(
        kind=alerts.AlertKind.TASK_FAILED,
        report=report_of(ti.task_id, report),
        period=_label(first, last),
        reason=_reason(context.get("exception")),
        run_id=context["run_id"],
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        details={"try_number": int(getattr(ti, "try_number", 1) or 1)},
    )
    alerts.raise_alert_dsn(_warehouse_dsn(), alert, alerts.notifiers_from_env())


def _resolve_failure(context: Context) -> None:
    """A task that succeeds after its failure was alerted (cleared and rerun) closes it."""
    import psycopg

    from regreport import alerts

    ti = context["ti"]
    key = f"{alerts.AlertKind.TASK_FAILED}:{ti.dag_id}:{ti.task_id}:{context['run_id']}"
    with psycopg.connect(_warehouse_dsn()) as conn:
        row = conn.execute(
            "select 1 from regreport.alerts where alert_key = %s and resolved_at is null", (key,)
        ).fetchone()
        if row is not None:
            alerts.resolve(conn, key)
            log.info("task succeeded: alert %s resolved", key)


def _safely(what: str, func: Any, *args: Any) -> None:
    try:
        func(*args)
    except Exception:  # a callback cannot fail its task: say it loudly instead
        log.exception("task callback: could not %s", what)


def on_execute(report: str, context: Context) -> None:
    """Before the task: bind the log context."""
    _safely("bind the log context", _bind, report, context)


def on_success(report: str, context: Context) -> None:
    """After a success: metrics, audit, and close this task's failure alert if it had one."""
    _safely("record the run metrics", _metric, report, context, "success", None)
    audit_task_success(context)
    _safely("resolve the task's failure alert", _resolve_failure, context)


def on_retry(report: str, context: Context) -> None:
    """After a failed try that will be retried: metrics only (no alert yet)."""
    exc = context.get("exception")
    _safely("record the run metrics", _metric, report, context, "failed", _reason(exc))


def on_skipped(report: str, context: Context) -> None:
    """After the task skipped itself (e.g. a report left out of the run's choice): metrics."""
    _safely("record the run metrics", _metric, report, context, "skipped", None)


def on_failure(report: str, context: Context) -> None:
    """After the last try failed: metrics, audit, and an alert with report, period, reason."""
    exc = context.get("exception")
    _safely("record the run metrics", _metric, report, context, "failed", _reason(exc))
    audit_task_failure(context)
    _safely("raise the task-failure alert", _alert, report, context)


def task_callbacks(report: str) -> dict[str, Any]:
    """The callbacks for a DAG's ``default_args``, for tasks about `report`."""
    return {
        "on_execute_callback": partial(on_execute, report),
        "on_success_callback": partial(on_success, report),
        "on_retry_callback": partial(on_retry, report),
        "on_failure_callback": partial(on_failure, report),
        "on_skipped_callback": partial(on_skipped, report),
    }
