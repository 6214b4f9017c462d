"""# Report deadlines: alert when a report is not submitted, or not accepted, in time.

Every 15 minutes, `check_deadlines` looks at each report type's periods whose deadline has
passed (within the look-back window, `REGREPORT_DEADLINE_LOOKBACK_DAYS`, default 10 days, and
not before `REGREPORT_REPORTING_START`) and raises an alert for each period that

- was **not submitted** (MiFIR: uploaded to the regulator; books and records: archived) by its
  deadline, unless its run finished before the deadline with nothing to file;
- was submitted but **not accepted** by its deadline (records rejected, pending, unanswered, or
  accepted late).

Daily reports are due for every weekday (a venue may trade on a holiday of the deadline's
calendar); the deadline counts business days of the report's jurisdiction.

| report | period | calendar | due |
|---|---|---|---|
| MiFIR transactions | weekday | TARGET2 | close of the next working day (Art. 26(1)) |
| positions, trading, large trader, risk limits | weekday | US | close of the next business day |
| large trader (monthly) | month | US | 10 business days after the month |
| execution quality (Rule 605) | month | US | end of the following month |
| execution quality (review) | quarter | US | end of the month after the quarter |

Alerts go to the channels in `REGREPORT_ALERT_CHANNELS` (log file, email, webhook, or a
plug-in) once per channel and breach: a breach found again 15 minutes later is not sent again
(`regreport.alerts`, table `regreport.alerts`). `regreport alerts list` shows them,
`regreport alerts resolve KEY` closes one.

**As of:** a scheduled run checks as of the end of its data interval; a manual run checks as
of **As of** (an ISO timestamp) or the moment it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from regreport import config
from regreport.operators.callbacks import task_callbacks

SETTINGS = config.Settings.from_env()


@task
def check_deadlines() -> dict[str, Any]:
    """Find the missed deadlines and raise their alerts (each once per channel)."""
    import psycopg

    from regreport import alerts, deadlines
    from regreport.hooks.connections import postgres_dsn

    ctx = get_current_context()
    as_of = ctx["params"].get("as_of")
    if as_of:
        now = datetime.fromisoformat(str(as_of))
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    else:
        now = ctx.get("data_interval_end") or datetime.now(tz=UTC)
    notifiers = alerts.notifiers_from_env()
    with psycopg.connect(postgres_dsn(config.WAREHOUSE_CONN_ID)) as conn:
        found = deadlines.check(conn, now)
        missed = [s for s in found if s.alert is not None]
        raised = []
        for status in missed:
            assert status.alert is not None  # noqa: S101 - filtered just above
            outcome = alerts.raise_alert(conn, status.alert, notifiers)
            raised.append({"key": outcome.key, "sent": list(outcome.sent)})
    return {
        "as_of": now.isoformat(),
        "periods": len(found),
        "missed": [s.alert.key for s in missed if s.alert is not None],
        "raised": raised,
    }


@dag(
    dag_id="report_deadlines_monitor",
    dag_display_name="Report deadlines (monitor)",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=1),
        **task_callbacks("deadlines"),
    },
    tags=["ops", "report"],
    doc_md=__doc__,
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            title="As of",
            description="Check deadlines as of this instant (ISO 8601). Empty: now.",
        )
    },
)
def report_deadlines_monitor() -> None:
    """One task: check, then alert."""
    check_deadlines()


report_deadlines_monitor()
