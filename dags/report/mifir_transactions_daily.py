"""# MiFIR transaction reports, one business day.

Builds the MiFIR RTS 22 transaction report (ISO 20022 `auth.016`) for one business day of the
firm's executions and archives it, write-once, for the retention period.

1. `extract_period` copies the day's executions, orders and quotes, every execution changed
   during the day (amendments and cancellations of earlier trades), and all reference data,
   from the QSuite trading database into the warehouse `raw` schema (idempotent, COPY).
2. `dbt_transform` runs the dbt staging and intermediate models and their tests
   (astronomer-cosmos): RTS 22 fields, eligibility (`int_mifir__eligibility`: reportable or
   not, with a reason) and the SQL blocking checks.
3. `apply_rules` evaluates the validation rule catalogue (`regreport.rules`: LEI and ISIN
   check digits, MICs active on the trade date, CONCAT, mandatory and forbidden fields per
   instrument type, ...) and records violations in `regreport.rule_violations`.
4. `dbt_reports` builds the report rows and the quarantine (every blocking reason code and the
   source row of each quarantined execution).
5. `validate_report` runs the Great Expectations checkpoint
   `mifir_transactions_daily__report` on the day's report rows. **A failure stops the run.**
6. `render_report` reconciles the counts (every source row the run read: source = reported +
   quarantined + not reportable), diffs the report rows against the transaction ledger (new,
   amended: `Cxl` + `New`, withdrawn by the source: `Cxl`; a reported execution that now
   fails a rule is held, never cancelled), streams the records into `auth.016` files (split by
   size) inside the `head.001`/`head.003` envelope, validates them against the ESMA XSDs and
   writes the SHA-256 manifests. A day that has not ended is refused at the extract.
7. `archive_report` uploads files and manifests to S3 with Object Lock COMPLIANCE
   retention. A rerun that produced the same bytes archives nothing new.
8. `register_report` records each file, its S3 version id and retention in
   `regreport.report_registry`, and its records in `regreport.transaction_ledger`.
9. `submit_report` uploads each new file to the regulator's SFTP gateway (connection
   `regulator_sftp`, host key pinned): temporary name, then rename; retried with backoff. A
   file the registry already has as submitted, or that the gateway already holds, is never
   sent twice. If the gateway stays down the task fails and nothing is marked submitted.
10. `await_feedback` (deferrable: waits in the triggerer, not on a worker) collects the
   regulator's auth.031 status advice, archives it write-once, and records per file and per
   record: ACCEPTED, PARTIALLY_ACCEPTED or REJECTED; rejected records become exceptions
   (`regreport exceptions`). Records pending on reference data are followed up by
   `mifir_feedback_collect`.

**Resubmitting rejected records:** fix the source, then trigger this DAG with **Report date**
= the trading day and **Resubmit rejected records only** ticked: the run sends exactly the
records whose last report was rejected and that have changed since, as `New` reports linked to
the rejected versions (every version stays in the ledger). Tick **Resend unchanged** too when
the fix was on the regulator's side (e.g. CON-412: the instrument is now in FIRDS).

**Period:** the data interval is one business day, 00:00 to 24:00 UTC (`BusinessDayTimetable`);
scheduled runs start at 06:00 UTC the next day, inside the T+1 deadline of MiFIR Art. 26(1).
To report a past day (back-reporting, or resubmitting after a source fix), trigger the DAG and
fill in **Report date**: the run sends only what differs from what the ledger says was sent
(a rerun with unchanged data reproduces the last submission byte for byte and archives nothing
twice), or backfill a range with
`airflow backfill create --dag-id mifir_transactions_daily --from-date A --to-date B`.

**Regulation:** MiFIR Art. 26; Commission Delegated Regulation (EU) 2017/590 (RTS 22);
ESMA/2016/1521 reporting instructions; SEC 17a-4(f) for the WORM archive.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from regreport import config
from regreport.operators.audit import record_trigger_task
from regreport.operators.callbacks import task_callbacks
from regreport.operators.dbt import DAY_END, DAY_START, dbt_group
from regreport.operators.feedback import AwaitRegulatorFeedbackOperator
from regreport.operators.leases import period_lease
from regreport.operators.submit import SubmitToRegulatorOperator
from regreport.timetables import BusinessDayTimetable, report_period

SETTINGS = config.Settings.from_env()


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
def apply_rules() -> dict[str, Any]:
    """Evaluate the rule catalogue on the candidate records; record the violations."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import apply_rules as run_rules

    start, end, run_id = _period()
    return run_rules(SETTINGS, postgres_dsn(config.TRANSFORM_CONN_ID), start, end, run_id)


@task
def validate_report() -> dict[str, Any]:
    """Run the GX checkpoint on the day's report rows; raise if any expectation fails."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import validate

    start, _, run_id = _period()
    return validate(SETTINGS, postgres_dsn(config.WAREHOUSE_CONN_ID), start.date(), run_id)


@task
def render_report(extracted: dict[str, Any], validated: dict[str, Any]) -> dict[str, Any]:
    """Render, XSD-validate, reconcile and hash the report; write its manifest."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import render

    start, end, run_id = _period()
    params = get_current_context()["params"]
    run_ids = {
        "extract": extracted["run_id"],
        "dbt": f"{run_id}/dbt_transform+dbt_reports",
        "gx": validated["run_id"],
    }
    return render(
        SETTINGS,
        postgres_dsn(config.WAREHOUSE_CONN_ID),
        start,
        end,
        run_ids,
        validated,
        only_rejected=bool(params.get("only_rejected")),
        resend_unchanged=bool(params.get("resend_unchanged")),
    )


@task
def archive_report(built: dict[str, Any]) -> dict[str, Any]:
    """Upload report and manifest to the Object Lock bucket (never overwriting)."""
    from regreport.hooks.connections import s3_client
    from regreport.pipeline import archive

    return archive(SETTINGS, s3_client(config.S3_CONN_ID), built)


@task
def register_report(built: dict[str, Any], archived: dict[str, Any]) -> dict[str, Any]:
    """Record the report in the registry and log the run summary."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import register

    _, _, run_id = _period()
    return register(SETTINGS, postgres_dsn(config.WAREHOUSE_CONN_ID), built, archived, run_id)


@dag(
    dag_id="mifir_transactions_daily",
    dag_display_name="MiFIR transaction reports (daily)",
    # Every weekday, TARGET2 holidays included: a venue open that day still trades, and its
    # trades are reportable (due by the close of the next TARGET2 working day).
    schedule=BusinessDayTimetable(run_after_hours=6, calendar="WEEKENDS"),
    # Back-reporting and backfills may go back to MiFIR II's start (3 January 2018); a run
    # before start_date would create no task and "succeed" doing nothing.
    start_date=datetime(2018, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=2),
        **task_callbacks("mifir_rts22"),
    },
    tags=["mifir", "report"],
    doc_md=__doc__,
    params={
        "report_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Report date",
            description=(
                "Business day to (re)report, e.g. a resubmission after a fix. Leave empty to"
                " report the run's data interval."
            ),
        ),
        "only_rejected": Param(
            False,
            type="boolean",
            title="Resubmit rejected records only",
            description=(
                "Send only the records of this day whose last report the regulator rejected"
                " and that have been corrected since (see `regreport exceptions`)."
            ),
        ),
        "resend_unchanged": Param(
            False,
            type="boolean",
            title="Resend unchanged",
            description=(
                "Also resend rejected records that did not change (the fix was on the"
                " regulator's side, e.g. an instrument now in its reference data)."
            ),
        ),
    },
)
def mifir_transactions_daily() -> None:
    """Extract, dbt, rules, dbt, GX, render, archive, register, submit, await feedback."""
    extracted = extract_period()
    # One run at a time builds in the warehouse and files (a scheduled, a backfill and a
    # manual run may run at once, and share its tables): held from the extract to submission.
    claim, release = period_lease(_period_day)
    record_trigger_task() >> claim >> extracted
    transform = _dbt_group(
        "dbt_transform",
        ["path:seeds", "path:models/staging", "path:models/intermediate", "path:models/marts"],
    )
    rules = apply_rules()
    reports = _dbt_group("dbt_reports", ["path:models/reports"])
    validated = validate_report()
    built = render_report(extracted, validated)
    archived = archive_report(built)
    extracted >> transform >> rules >> reports >> validated
    submitted = SubmitToRegulatorOperator(
        task_id="submit_report",
        registered=register_report(built, archived),
        conn_id=config.SFTP_CONN_ID,
        warehouse_conn_id=config.WAREHOUSE_CONN_ID,
    )
    submitted >> release.as_teardown(setups=claim)
    AwaitRegulatorFeedbackOperator(
        task_id="await_feedback",
        submitted=submitted.output,
        conn_id=config.SFTP_CONN_ID,
        warehouse_conn_id=config.WAREHOUSE_CONN_ID,
        timeout=timedelta(hours=6),
        poll_seconds=5,
    )


def _dbt_group(group_id: str, select: list[str]) -> Any:
    """A part of the dbt project for the day; the periodic reports have DAGs of their own."""
    return dbt_group(
        SETTINGS,
        group_id,
        select,
        period_start=DAY_START,
        period_end=DAY_END,
        exclude=["tag:periodic"],
    )


mifir_transactions_daily()
