"""# Periodic reports, one business day: positions, daily trading, large trader, risk limits.

Builds the firm's daily books and records reports for one business day and archives them,
write-once, for the retention period (SEC 17a-3(a)(1) blotter, (a)(5) positions; 17a-4(f)).

1. `extract_period` lands the day's orders, executions and quotes and all reference data in
   the warehouse `raw` schema (the same idempotent extract as the MiFIR DAG).
2. `dbt_periodic` runs the dbt models tagged `daily` and everything upstream of them
   (astronomer-cosmos), each with its tests:
   - `fct_positions_daily` / `rpt_positions`: net position and weighted average cost per
     account and instrument, built from the previous day's positions;
   - `rpt_daily_trading`, `rpt_daily_trading_summary`: the day's trades and their summary;
   - `rpt_large_trader_daily` (SEC Rule 13h-1): NMS shares and dollar value per discretion
     group, the day and the month to date, against 2M shares / $20M a day and 20M / $200M a
     month; WARNING from 80 %, THRESHOLD at 100 %, unidentified large traders;
   - `rpt_risk_limits_daily`: each account's use of the limits in force (daily and per-order
     notional, order quantity, gross position), in the limit's currency at the day's
     reference FX rates;
   - the Rule 605 facts the monthly DAG aggregates (`fct_nbbo_daily`,
     `fct_execution_quality_orders`, `fct_execution_quality_fills`).
   The positions model refuses to build a day when an earlier trading day with fills was
   never built: positions are a chain, so backfill from that day instead.
3. `validate_<report>` runs the report's Great Expectations checkpoint. **A failure stops that
   report**: nothing is rendered or archived.
4. `render_<report>` writes the CSV files (positions also as XML) and their SHA-256
   manifests; `archive_<report>` puts them in the Object Lock bucket (COMPLIANCE);
   `register_<report>` records them in `regreport.report_registry`. A rerun over unchanged data
   reproduces the files byte for byte and archives nothing new. Large trader alerts and
   risk limit breaches and warnings are logged and written to the audit trail
   (`large_trader.alert`, `risk.limit`).

**Period:** one business day, 00:00 to 24:00 UTC (`BusinessDayTimetable`), run at 02:00 UTC
the next day. Positions are a chain (a day starts from the day before), so runs go one at a
time (`max_active_runs=1`) and a backfill builds the days in date order:
`airflow backfill create --dag-id periodic_reports_daily --from-date A --to-date B`. A day
whose previous trading day was never built fails in `fct_positions_daily`, naming the day to
backfill from.
To rebuild one past day, trigger with **Report date**; then rebuild the days after it too,
since their positions start from it.
**Reports** chooses which of the four reports a run (or every run of a backfill) builds and
files; the others are skipped from their validation on. The dbt models are built in full
either way (positions are a chain).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from regreport import config
from regreport.operators.audit import record_trigger_task
from regreport.operators.callbacks import task_callbacks
from regreport.operators.dbt import DAY_END, DAY_START, dbt_group
from regreport.operators.leases import period_lease
from regreport.timetables import BusinessDayTimetable, report_period

SETTINGS = config.Settings.from_env()
#: The reports this DAG builds (`regreport.periodic.REPORTS`).
REPORTS = ("positions", "daily_trading", "large_trader_daily", "risk_limits")


def _period() -> tuple[datetime, datetime, str]:
    ctx = get_current_context()
    start, end = report_period(
        ctx["params"].get("report_date"),
        ctx.get("data_interval_start"),
        ctx.get("data_interval_end"),
    )
    return start, end, ctx["run_id"]


def _period_day() -> date:
    return _period()[0].date()


@task
def extract_period() -> dict[str, Any]:
    """Land the period's source rows in the warehouse `raw` schema."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.operators.periods import fail_unless_ended
    from regreport.pipeline import extract

    start, end, run_id = _period()
    fail_unless_ended(end)
    return extract(
        postgres_dsn(config.SOURCE_CONN_ID),
        postgres_dsn(config.EXTRACT_CONN_ID),
        start,
        end,
        run_id,
    )


@task
def validate(report_type: str) -> dict[str, Any]:
    """Run the report's GX checkpoint on the day's rows; raise if any expectation fails.

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
def render(
    report_type: str, extracted: dict[str, Any], validated: dict[str, Any]
) -> dict[str, Any]:
    """Write the report's files and manifests."""
    from regreport import periodic
    from regreport.hooks.connections import postgres_dsn

    start, end, run_id = _period()
    run_ids = {"extract": extracted["run_id"], "dbt": f"{run_id}/dbt_periodic",
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
    dag_id="periodic_reports_daily",
    dag_display_name="Positions, trading, large trader, risk limits (daily)",
    # Every weekday, holidays included: positions are a chain, and a venue open on a
    # TARGET2 or US holiday still trades.
    schedule=BusinessDayTimetable(run_after_hours=2, calendar="WEEKENDS"),
    # Back-reporting and backfills may go back to MiFIR II's start (3 January 2018); a run
    # before start_date would create no task and "succeed" doing nothing.
    start_date=datetime(2018, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=2),
        **task_callbacks("periodic_daily"),
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
        "report_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Report date",
            description=(
                "Business day to (re)build. Leave empty to build the run's data interval."
                " Rebuild the following days too: their positions start from this one."
            ),
        ),
    },
)
def periodic_reports_daily() -> None:
    """Extract, dbt, then per report: GX, render, archive, register."""
    extracted = extract_period()
    # One run at a time builds in the warehouse, this DAG or another (`regreport.leases`).
    claim, release = period_lease(_period_day)
    record_trigger_task() >> claim >> extracted
    registered = []
    models = dbt_group(
        SETTINGS,
        "dbt_periodic",
        ["+tag:daily"],
        period_start=DAY_START,
        period_end=DAY_END,
    )
    extracted >> models
    for report_type in REPORTS:
        validated = validate.override(task_id=f"validate_{report_type}")(report_type)
        models >> validated
        built = render.override(task_id=f"render_{report_type}")(report_type, extracted, validated)
        stored = archive.override(task_id=f"archive_{report_type}")(built)
        registered.append(register.override(task_id=f"register_{report_type}")(built, stored))
    registered >> release.as_teardown(setups=claim)


periodic_reports_daily()
