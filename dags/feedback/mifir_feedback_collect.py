"""# Regulator feedback, collected every 15 minutes.

Picks up every auth.031 status advice the regulator's SFTP gateway has published (connection
`regulator_sftp`) that has not been processed yet, keeps a write-once copy in the archive
bucket (`feedback/...`, Object Lock COMPLIANCE), and applies it to the files and records it
answers (`regreport.submissions`): ACCEPTED, PARTIALLY_ACCEPTED, REJECTED per file; ACPT, PDNG,
RJCT per record. `mifir_transactions_daily` waits for the first verdict on its own files; this
DAG follows up what comes later, chiefly records pending on the regulator's reference data
(CON-411), which become accepted or, after the regulator's re-checks, rejected (CON-412).

A feedback file that cannot be applied (unsafe XML, not a valid auth.031, about a file we never
submitted, or contradicting a final status) is recorded in `regreport.feedback_files` with a
reason code, moved to the local quarantine folder, and fails the run so that someone looks.

Rejected records are listed by `regreport exceptions`; to resubmit them, see
`mifir_transactions_daily` (**Resubmit rejected records only**).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DeltaDataIntervalTimetable, dag, task

from regreport import config
from regreport.operators.audit import record_trigger_task
from regreport.operators.callbacks import task_callbacks

SETTINGS = config.Settings.from_env()


@task
def collect_feedback() -> dict[str, Any]:
    """Download, archive, parse and apply every new feedback file; fail if one is refused."""
    import psycopg

    from regreport.hooks.connections import postgres_dsn
    from regreport.operators.feedback import collect_new_feedback

    with psycopg.connect(postgres_dsn(config.WAREHOUSE_CONN_ID)) as conn:
        result = collect_new_feedback(conn, config.SFTP_CONN_ID)
    return {"listed": result.listed, "applied": result.applied}


@dag(
    dag_id="mifir_feedback_collect",
    dag_display_name="MiFIR regulator feedback (collect)",
    schedule=DeltaDataIntervalTimetable(timedelta(minutes=15)),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=1),
        **task_callbacks("mifir_rts22"),
    },
    tags=["mifir", "ops"],
    doc_md=__doc__,
)
def mifir_feedback_collect() -> None:
    """Record the trigger, then collect and apply new feedback."""
    record_trigger_task() >> collect_feedback()


mifir_feedback_collect()
