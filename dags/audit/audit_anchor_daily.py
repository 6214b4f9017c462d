"""# Audit-log anchor, daily.

Archives the previous UTC day's anchor of the audit log to the Object Lock bucket
(`audit/anchors/YYYY/MM/DD/<head seq>.json`, COMPLIANCE retention): the chain head (sequence
number and SHA-256) and the Merkle root of the day's entries. `regreport audit verify` checks
the database against every anchor, so an entry changed, removed or re-chained after its day was
anchored is caught, even if whoever did it rewrote the whole chain consistently.

To anchor a past day (e.g. after an outage), trigger with **Day**; anchoring a day twice writes
nothing new unless entries for it were added since, in which case the later anchor covers them.
See `docs/audit.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from regreport import config
from regreport.operators.audit import AIRFLOW_ACTOR, record_trigger_task
from regreport.operators.callbacks import task_callbacks

SETTINGS = config.Settings.from_env()


@task
def anchor_day() -> dict[str, Any]:
    """Build, archive and record the day's anchor."""
    from datetime import date

    import psycopg

    from regreport import audit
    from regreport.archive import retention_until
    from regreport.hooks.connections import postgres_dsn, s3_client

    ctx = get_current_context()
    chosen = ctx["params"].get("day")
    # The run at 00:30 (the end of its data interval) anchors the UTC day that just ended.
    run_at = ctx.get("data_interval_end") or datetime.now(tz=UTC)
    day = date.fromisoformat(chosen) if chosen else run_at.date() - timedelta(days=1)
    with psycopg.connect(postgres_dsn(config.WAREHOUSE_CONN_ID)) as conn:
        anchor, uri = audit.anchor_day(
            conn,
            s3_client(config.S3_CONN_ID),
            SETTINGS.s3_bucket,
            day,
            retain_until=retention_until(
                datetime.now(tz=UTC), SETTINGS.retention_days_for("audit")
            ),
            actor=AIRFLOW_ACTOR,
        )
    return {"day": day.isoformat(), "uri": uri, "entries": anchor.count}


@dag(
    dag_id="audit_anchor_daily",
    dag_display_name="Audit-log anchor (daily)",
    # An explicit interval: [D-1 00:30, D 00:30), run at D 00:30 for day D-1. The half hour
    # lets the last entries of the day commit before the day is sealed.
    schedule=CronDataIntervalTimetable("30 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=5),
        **task_callbacks("audit_log"),
    },
    tags=["audit"],
    doc_md=__doc__,
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day",
            description="UTC day to anchor. Leave empty for the day before the run.",
        )
    },
)
def audit_anchor_daily() -> None:
    """Record the trigger, then anchor the day."""
    record_trigger_task() >> anchor_day()


audit_anchor_daily()
