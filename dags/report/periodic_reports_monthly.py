"""# Periodic reports, one calendar month: large trader and execution quality.

Builds the month's reports from what the daily DAG (`periodic_reports_daily`) built for each
business day of the month, and archives them write-once.

1. `check_days_built` refuses to report a month whose daily builds are incomplete: every date
   of the month with live fills must have its positions built (the daily DAG ran for it).
   Backfill the daily DAG over the missing days first.
2. `dbt_monthly` runs the dbt models tagged `monthly` (astronomer-cosmos), each with its tests:
   `rpt_large_trader_monthly` (SEC Rule 13h-1: per discretion group, the month's NMS shares and
   US dollar value against 20M shares / $200M, the days at a daily threshold, the alert level
   and unidentified large traders), `rpt_execution_quality_monthly` and
   `rpt_execution_quality_realized_monthly` (SEC Rule 605 style, per instrument, order category
   and size band: effective and quoted spreads, E/Q, price improvement, share-weighted time to
   execution, realized spreads at 50 ms, 1 s, 15 s, 1 min and 5 min), aggregated from the
   daily per-order and per-fill facts the daily DAG builds against the NBBO.
3. Per report: `validate_<report>` (Great Expectations; **a failure stops that report**),
   `render_<report>` (CSV and SHA-256 manifest), `archive_<report>` (Object Lock COMPLIANCE),
   `register_<report>` (report registry, audit trail; large trader alerts are audited as
   `large_trader.alert`).

**Period:** a calendar month, 1st 00:00 UTC to the next 1st (`MonthlyTimetable`), run at 06:00
UTC on the first business day after it. To rebuild a past month, trigger with **Report month**
(`YYYY-MM`), or backfill a range of months:
`airflow backfill create --dag-id periodic_reports_monthly --from-date A --to-date B`.
**Reports** chooses which of the two reports a run builds and files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from regreport import config
from regreport.operators.audit import record_trigger_task
from regreport.operators.callbacks import task_callbacks
from regreport.operators.dbt import dbt_group
from regreport.operators.leases import period_lease
from regreport.timetables import MonthlyTimetable

SETTINGS = config.Settings.from_env()
#: The reports this DAG builds (`regreport.periodic.REPORTS`).
REPORTS = ("large_trader_monthly", "execution_quality")

PERIOD_START = (
    "{{ (params.report_month ~ '-01T00:00:00+00:00') if params.report_month"
    " else data_interval_start.isoformat() }}"
)
PERIOD_END = (
    "{{ ((macros.datetime.strptime(params.report_month ~ '-28', '%Y-%m-%d')"
    " + macros.timedelta(days=4)).strftime('%Y-%m') ~ '-01T00:00:00+00:00')"
    " if params.report_month else data_interval_end.isoformat() }}"
)


def _period() -> tuple[datetime, datetime, str]:
    """The month of the run: the `report_month` param when given, else the data interval."""
    ctx = get_current_context()
    month = ctx["params"].get("report_month")
    if month:
        start = datetime.strptime(f"{month}-01", "%Y-%m-%d").replace(tzinfo=UTC)
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return start, end, ctx["run_id"]
    start, end = ctx.get("data_interval_start"), ctx.get("data_interval_end")
    if start is None or end is None:
        raise ValueError("this run has no data interval: set 'report_month' (YYYY-MM)")
    return start, end, ctx["run_id"]


def _period_month() -> date:
    return _period()[0].date()


@task
def check_days_built() -> dict[str, Any]:
    """Fail unless every date of the month with live fills has its daily build."""
    import psycopg

    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn

    start, end, _ = _period()
    with psycopg.connect(postgres_dsn(config.WAREHOUSE_CONN_ID)) as conn:
        return periodic.require_days_built(conn, start.date(), end.date())


@task
def validate(report_type: str) -> dict[str, Any]:
    """Run the report's GX checkpoint on the month's rows; raise if any expectation fails.

    A report left out of the **Reports** parameter is skipped here, and so is everything
    downstream of it (render, archive, register).
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import validate_checkpoint

    chosen = get_current_context()["params"].get("reports") or list(REPORTS)
    if report_type not in chosen:
        raise AirflowSkipException(f"{report_type} is not among the chosen reports {chosen}")
    start, _, run_id = _period()
    checkpoint = periodic.REPORTS[report_type].checkpoint
    return validate_checkpoint(
        SETTINGS, postgres_dsn(config.WAREHOUSE_CONN_ID), checkpoint, start.date(), run_id
    )


@task
def render(report_type: str, validated: dict[str, Any]) -> dict[str, Any]:
    """Write the report's files and manifests."""
    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn

    start, end, run_id = _period()
    run_ids = {"extract": "periodic_reports_daily", "dbt": f"{run_id}/dbt_monthly",
               "gx": validated["run_id"]}  # fmt: skip
    return periodic.render(
        SETTINGS,
        postgres_dsn(config.WAREHOUSE_CONN_ID),
        periodic.REPORTS[report_type],
        start,
        end,
        run_ids,
    )


@task
def archive(built: dict[str, Any]) -> dict[str, Any]:
    """Upload the files and manifests to the Object Lock bucket (never overwriting)."""
    from regreport.hooks.connections import s3_client
    from regreport.pipeline import archive as archive_files

    return archive_files(SETTINGS, s3_client(config.S3_CONN_ID), built)


@task
def register(built: dict[str, Any], archived: dict[str, Any]) -> dict[str, Any]:
    """Record the files in the report registry (and the audit trail)."""
    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn

    _, _, run_id = _period()
    return periodic.register(postgres_dsn(config.WAREHOUSE_CONN_ID), built, archived, run_id)


@dag(
    dag_id="periodic_reports_monthly",
    dag_display_name="Large trader and execution quality (monthly)",
    schedule=MonthlyTimetable(run_after_hours=6, calendar="US"),
    # Back-reporting and backfills may go back to MiFIR II's start (3 January 2018); a run
    # before start_date would create no task and "succeed" doing nothing.
    start_date=datetime(2018, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=5),
        **task_callbacks("periodic_monthly"),
    },
    tags=["periodic", "report"],
    doc_md=__doc__,
    params={
        "reports": Param(
            list(REPORTS),
            type="array",
            items={"type": "string", "enum": list(REPORTS)},
            examples=list(REPORTS),
            uniqueItems=True,
            minItems=1,
            title="Reports",
            description="Which reports to build and file; the others are skipped.",
        ),
        "report_month": Param(
            None,
            type=["null", "string"],
            pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
            title="Report month",
            description="Calendar month to (re)build, YYYY-MM. Leave empty for the run's month.",
        ),
    },
)
def periodic_reports_monthly() -> None:
    """Check the days, dbt, then per report: GX, render, archive, register."""
    checked = check_days_built()
    claim, release = period_lease(_period_month)
    record_trigger_task() >> claim >> checked
    registered = []
    # Only the monthly models: the daily DAG built everything they read.
    models = dbt_group(
        SETTINGS,
        "dbt_monthly",
        ["tag:monthly"],
        period_start=PERIOD_START,
        period_end=PERIOD_END,
    )
    checked >> models
    for report_type in REPORTS:
        validated = validate.override(task_id=f"validate_{report_type}")(report_type)
        models >> validated
        built = render.override(task_id=f"render_{report_type}")(report_type, validated)
        stored = archive.override(task_id=f"archive_{report_type}")(built)
        registered.append(register.override(task_id=f"register_{report_type}")(built, stored))
    registered >> release.as_teardown(setups=claim)


periodic_reports_monthly()
