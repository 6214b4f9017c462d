"""# Periodic reports, one calendar quarter: execution quality for the best-execution review.

FINRA Rule 5310.09 asks a broker-dealer for a "regular and rigorous review" of the execution
quality it obtains, at least quarterly. This DAG builds the quarter's figures for the
best-execution committee, on the same measures as the monthly Rule 605 report (one dbt macro,
`execution_quality_summary`), computed over all orders received in the quarter from the daily
facts, and archives them write-once.

1. `claim_period` takes the warehouse build lease (one report run at a time builds).
2. `check_days_built` refuses a quarter whose daily builds are incomplete: every date with
   live fills must have been built by `periodic_reports_daily`. Backfill those days first.
3. `dbt_quarterly` runs the models tagged `quarterly` (`rpt_execution_quality_quarterly`) with
   their tests (astronomer-cosmos).
4. `validate_execution_quality_quarterly` (Great Expectations; **a failure stops the report**),
   `render_...` (CSV and SHA-256 manifest, `EXECUTION_QUALITY_QUARTERLY_<LEI>_<YYYY>Q<n>.csv`),
   `archive_...` (Object Lock COMPLIANCE), `register_...` (report registry, audit trail).
5. `release_period` gives the lease back (a teardown: it runs even when a step failed).

**Period:** a calendar quarter, 00:00 UTC on its first day to the next quarter's
(`QuarterlyTimetable`), run at 06:00 UTC on the first US business day after it. Due to the
committee a month after the quarter (`regreport deadlines`). To rebuild a past quarter, trigger
with **Report quarter** (`YYYY-Qn`), or backfill a range of quarters:
`airflow backfill create --dag-id periodic_reports_quarterly --from-date A --to-date B`.
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
from regreport.timetables import QuarterlyTimetable

SETTINGS = config.Settings.from_env()
REPORT = "execution_quality_quarterly"
#: The dbt period comes from `check_days_built`, which resolves the parameter or the interval.
PERIOD_START = "{{ ti.xcom_pull(task_ids='check_days_built')['period_start'] }}"
PERIOD_END = "{{ ti.xcom_pull(task_ids='check_days_built')['period_end'] }}"


def quarter_bounds(label: str) -> tuple[datetime, datetime]:
    """``2026-Q4`` -> [2026-10-01, 2027-01-01) in UTC."""
    from regreport.calendar import quarter_period

    year, _, quarter = label.partition("-Q")
    if not (year.isdigit() and quarter in ("1", "2", "3", "4")):
        raise ValueError(f"report_quarter must look like 2026-Q4, not {label!r}")
    period = quarter_period(date(int(year), (int(quarter) - 1) * 3 + 1, 1))
    return (
        datetime.combine(period.start, datetime.min.time(), tzinfo=UTC),
        datetime.combine(period.end, datetime.min.time(), tzinfo=UTC),
    )


def _period() -> tuple[datetime, datetime, str]:
    """The quarter of the run: the `report_quarter` param when given, else the interval."""
    ctx = get_current_context()
    label = ctx["params"].get("report_quarter")
    if label:
        start, end = quarter_bounds(str(label))
        return start, end, ctx["run_id"]
    start, end = ctx.get("data_interval_start"), ctx.get("data_interval_end")
    if start is None or end is None:
        raise ValueError("this run has no data interval: set 'report_quarter' (YYYY-Qn)")
    return start, end, ctx["run_id"]


def _period_quarter() -> date:
    return _period()[0].date()


@task
def check_days_built() -> dict[str, Any]:
    """Fail unless every date of the quarter with live fills has its daily build."""
    import psycopg

    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn

    start, end, _ = _period()
    with psycopg.connect(postgres_dsn(config.WAREHOUSE_CONN_ID)) as conn:
        built = periodic.require_days_built(conn, start.date(), end.date())
    return {**built, "period_start": start.isoformat(), "period_end": end.isoformat()}


@task(task_id=f"validate_{REPORT}")
def validate() -> dict[str, Any]:
    """Run the GX checkpoint on the quarter's rows; raise if any expectation fails."""
    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import validate_checkpoint

    start, _, run_id = _period()
    checkpoint = periodic.REPORTS[REPORT].checkpoint
    return validate_checkpoint(
        SETTINGS, postgres_dsn(config.WAREHOUSE_CONN_ID), checkpoint, start.date(), run_id
    )


@task(task_id=f"render_{REPORT}")
def render(validated: dict[str, Any]) -> dict[str, Any]:
    """Write the report's file and manifest."""
    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn

    start, end, run_id = _period()
    run_ids = {"extract": "periodic_reports_daily", "dbt": f"{run_id}/dbt_quarterly",
               "gx": validated["run_id"]}  # fmt: skip
    return periodic.render(
        SETTINGS,
        postgres_dsn(config.WAREHOUSE_CONN_ID),
        periodic.REPORTS[REPORT],
        start,
        end,
        run_ids,
    )


@task(task_id=f"archive_{REPORT}")
def archive(built: dict[str, Any]) -> dict[str, Any]:
    """Upload the file and manifest to the Object Lock bucket (never overwriting)."""
    from regreport.hooks.connections import s3_client
    from regreport.pipeline import archive as archive_files

    return archive_files(SETTINGS, s3_client(config.S3_CONN_ID), built)


@task(task_id=f"register_{REPORT}")
def register(built: dict[str, Any], archived: dict[str, Any]) -> dict[str, Any]:
    """Record the file in the report registry (and the audit trail)."""
    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn

    _, _, run_id = _period()
    return periodic.register(postgres_dsn(config.WAREHOUSE_CONN_ID), built, archived, run_id)


@dag(
    dag_id="periodic_reports_quarterly",
    dag_display_name="Execution quality, best-execution review (quarterly)",
    schedule=QuarterlyTimetable(run_after_hours=6, calendar="US"),
    # Back-reporting may go back to MiFIR II's start (3 January 2018); a run before
    # start_date would create no task and "succeed" doing nothing.
    start_date=datetime(2018, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=5),
        **task_callbacks(REPORT),
    },
    tags=["periodic", "report"],
    doc_md=__doc__,
    params={
        "report_quarter": Param(
            None,
            type=["null", "string"],
            pattern=r"^[0-9]{4}-Q[1-4]$",
            title="Report quarter",
            description="Calendar quarter to (re)build, YYYY-Qn. Leave empty for the run's.",
        ),
    },
)
def periodic_reports_quarterly() -> None:
    """Lease, check the days, dbt, GX, render, archive, register, release."""
    checked = check_days_built()
    claim, release = period_lease(_period_quarter)
    record_trigger_task() >> claim >> checked
    # Only the quarterly models: the daily DAG built the facts they read.
    models = dbt_group(
        SETTINGS,
        "dbt_quarterly",
        ["tag:quarterly"],
        period_start=PERIOD_START,
        period_end=PERIOD_END,
    )
    checked >> models
    validated = validate()
    models >> validated
    built = render(validated)
    registered = register(built, archive(built))
    registered >> release.as_teardown(setups=claim)


periodic_reports_quarterly()
