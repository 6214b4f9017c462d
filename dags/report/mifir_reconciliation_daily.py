"""# MiFIR reconciliation with the regulator (RTS 22 Art. 15), daily.

For the business day D of the data interval (run at D+1 20:00 UTC, after the day's report
went out at 06:00 and its feedback came back), compares three views of every transaction:

- **source**: the report rows (and quarantined executions) built from QSuite for D;
- **reported**: every version sent, from the transaction ledger;
- **accepted**: what the regulator holds, from its auth.031 feedback per record.

Each transaction lands in one bucket of `regreport.reconciliation_items` (a new run each time;
history kept): **MATCHED**, **FIELDS_DIFFER** (the regulator holds another version),
**MISSING_AT_REGULATOR** (with why: quarantined, not sent, pending, rejected, no feedback,
cancelled) and **UNKNOWN_TO_SOURCE** (held by the regulator, gone from the source). Breaks are
for a compliance officer to act on (`docs/reporting/mifir/reconciliation.md`); they do not fail
the run. The run fails when there is nothing to reconcile against (QSuite has trades on D but
the day was never reported), so an empty reconciliation never looks clean.

It also refreshes `regreport.submission_mi` for the last ten business days: records,
acceptance and rejection rates, and lateness against the T+1 deadline (close of the following
working day, TARGET2 calendar plus `REGREPORT_EXTRA_HOLIDAYS`, in `REGREPORT_REPORTING_TZ`).

To reconcile another day, trigger with **Report date**, or run `regreport reconcile --date D`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from regreport import config
from regreport.operators.audit import record_trigger_task
from regreport.operators.callbacks import task_callbacks
from regreport.timetables import BusinessDayTimetable, report_period

SETTINGS = config.Settings.from_env()


@task
def reconcile_day() -> dict[str, Any]:
    """Bucket every transaction of the day; refresh the MI; log the breaks."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import reconcile_with_regulator

    ctx = get_current_context()
    start, _ = report_period(
        ctx["params"].get("report_date"),
        ctx.get("data_interval_start"),
        ctx.get("data_interval_end"),
    )
    return reconcile_with_regulator(
        postgres_dsn(config.WAREHOUSE_CONN_ID),
        postgres_dsn(config.SOURCE_CONN_ID),
        start.date(),
    )


@dag(
    dag_id="mifir_reconciliation_daily",
    dag_display_name="MiFIR reconciliation with the regulator (daily)",
    # Every weekday, like the report it reconciles.
    schedule=BusinessDayTimetable(run_after_hours=20, calendar="WEEKENDS"),
    # Back-reporting and backfills may go back to MiFIR II's start (3 January 2018); a run
    # before start_date would create no task and "succeed" doing nothing.
    start_date=datetime(2018, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=5),
        **task_callbacks("mifir_reconciliation"),
    },
    tags=["mifir", "report"],
    doc_md=__doc__,
    params={
        "report_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Report date",
            description="Trading day to reconcile. Leave empty for the run's data interval.",
        )
    },
)
def mifir_reconciliation_daily() -> None:
    """Record the trigger, then reconcile the day and refresh the MI table."""
    record_trigger_task() >> reconcile_day()


mifir_reconciliation_daily()
