"""The MiFIR DAG end to end, through Airflow (`airflow dags test`), on the real services.

Each session reports a business day that has never been reported in the test state (archived
objects are locked and cannot be removed, so days are not reused), then reruns it, then shows
that a failing GX expectation stops the run before anything is archived.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from regreport import archive, local_airflow, registry
from regreport.config import Settings
from regreport.generator import generate
from regreport.pipeline import archive_key, summary_path
from regreport.timetables import next_business_day
from regreport.xml.schema import validate_file

pytestmark = pytest.mark.e2e
DAG_ID = "mifir_transactions_daily"
ORDERS = 400


def _fresh_day(settings: Settings, client, start: date) -> date:
    """First business day from `start` with nothing registered or archived."""
    with psycopg.connect(settings.warehouse_dsn) as conn:
        registry.ensure_schema(conn)
        conn.commit()
        taken = {r["period_start"] for r in registry.list_reports(conn)}
    archive.ensure_bucket(client, settings.s3_bucket)
    day = next_business_day(start)
    while True:
        prefix = f"mifir_rts22/{day:%Y/%m/%d}/"
        listed = client.list_object_versions(Bucket=settings.s3_bucket, Prefix=prefix)
        if day not in taken and not listed.get("Versions"):
            return day
        day = next_business_day(day + timedelta(days=1))


def _run(settings: Settings, day: date) -> int:
    return local_airflow.dags_test(settings, DAG_ID, day.isoformat())


@pytest.fixture(scope="module")
def s3(services: Settings):
    return archive.s3_client(services)


@pytest.fixture(scope="module")
def prepared(services: Settings) -> Settings:
    local_airflow.prepare(services, log=lambda _line: None)
    return services


def _expected_counts(settings: Settings, day: date) -> tuple[int, int]:
    """Source executions of the day, and those on an instrument without ISIN (from QSuite)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.source_dsn) as conn:
        total, no_isin = conn.execute(
            """
            select count(*), count(*) filter (where i.isin is null)
            from qsuite.executions as e
            join qsuite.orders as o using (order_id)
            join qsuite.instruments as i using (instrument_id)
            where e.executed_at >= %s and e.executed_at < %s
            """,
            (start, start + timedelta(days=1)),
        ).fetchone()
    return total, no_isin


def _task_states(settings: Settings, day: date) -> dict[str, str]:
    """Task states of the latest run for `day`, from the Airflow metadata DB."""
    with psycopg.connect(settings.dsn(settings.airflow_db)) as conn:
        rows = conn.execute(
            """
            select ti.task_id, ti.state from task_instance as ti
            where ti.dag_id = %(dag)s and ti.run_id = (
                select run_id from dag_run where dag_id = %(dag)s
                and data_interval_start = %(start)s order by id desc limit 1
            )
            """,
            {"dag": DAG_ID, "start": datetime(day.year, day.month, day.day, tzinfo=UTC)},
        ).fetchall()
    return dict(rows)


def test_report_a_day_then_rerun_it(prepared: Settings, s3) -> None:
    settings = prepared
    day = _fresh_day(settings, s3, date(2026, 6, 1))
    stats = generate(settings.source_dsn, day, orders=ORDERS, seed=11)
    source, no_isin = _expected_counts(settings, day)
    assert source == stats.executions

    assert _run(settings, day) == 0
    summary = json.loads(summary_path(settings, day).read_text())
    assert summary["new_report"] is True
    assert summary["already_archived"] is False
    counts = summary["counts"]
    assert counts["source_executions"] == source
    assert counts["quarantined"] == no_isin
    assert counts["reported"] == source - no_isin == summary["records"]
    if no_isin:
        assert [q["reason_code"] for q in summary["quarantine"]] == ["INSTRUMENT_ISIN_MISSING"]

    report = Path(summary["file"])
    checked = validate_file(report, settings.schemas_dir, settings.schema_version)
    assert checked.valid, checked.errors[:3]
    assert checked.records == summary["records"]
    manifest = json.loads(Path(summary["manifest"]).read_text())
    assert manifest["sha256"] == summary["sha256"]
    assert manifest["record_count"] == summary["records"]
    assert set(manifest["run_ids"]) == {"extract", "dbt", "gx"}

    # Archived under COMPLIANCE retention, and the server refuses to delete it.
    key = archive_key(
        {
            **summary,
            "report_type": "mifir_rts22",
            "period_start": day.isoformat(),
            "file_name": report.name,
        }
    )
    head = s3.head_object(Bucket=settings.s3_bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["VersionId"] == summary["version_id"]
    retain = head["ObjectLockRetainUntilDate"].astimezone(UTC)
    assert retain > datetime.now(tz=UTC) + timedelta(days=settings.retention_days - 1)
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=settings.s3_bucket, Key=key, VersionId=head["VersionId"])

    # Same input: same bytes, nothing archived twice, one registry row with two runs.
    assert _run(settings, day) == 0
    again = json.loads(summary_path(settings, day).read_text())
    assert again["sha256"] == summary["sha256"]
    assert again["already_archived"] is True
    assert again["new_report"] is False
    assert again["version_id"] == summary["version_id"]
    versions = s3.list_object_versions(Bucket=settings.s3_bucket, Prefix=key)["Versions"]
    assert [v["Key"] for v in versions].count(key) == 1
    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = [r for r in registry.list_reports(conn) if r["period_start"] == day]
    assert len(rows) == 1
    assert rows[0]["runs"] == 2


def test_failing_expectation_stops_the_upload(
    prepared: Settings, s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed ISIN passes the models (it is not null) but fails GX: nothing leaves."""
    settings = prepared
    day = _fresh_day(settings, s3, date(2026, 8, 3))
    generate(settings.source_dsn, day, orders=ORDERS, seed=12)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.source_dsn) as conn:
        instrument_id, isin = conn.execute(
            """
            select i.instrument_id, i.isin from qsuite.executions as e
            join qsuite.orders as o using (order_id)
            join qsuite.instruments as i using (instrument_id)
            where e.executed_at >= %s and e.executed_at < %s and i.isin is not null
            order by e.execution_id limit 1
            """,
            (start, start + timedelta(days=1)),
        ).fetchone()
        conn.execute(
            "update qsuite.instruments set isin = 'XX12' where instrument_id = %s",
            (instrument_id,),
        )
    monkeypatch.setenv("REGREPORT_TASK_RETRIES", "0")
    try:
        assert _run(settings, day) != 0
    finally:
        with psycopg.connect(settings.source_dsn) as conn:
            conn.execute(
                "update qsuite.instruments set isin = %s where instrument_id = %s",
                (isin, instrument_id),
            )
    states = _task_states(settings, day)
    assert states["extract_period"] == "success"
    assert states["dbt_build.rpt_mifir_rts22_transactions_model_build"] == "success"
    assert states["validate_report"] == "failed"
    for blocked in ("render_report", "archive_report", "register_report"):
        assert states[blocked] == "upstream_failed", (blocked, states[blocked])
    listed = s3.list_object_versions(
        Bucket=settings.s3_bucket, Prefix=f"mifir_rts22/{day:%Y/%m/%d}/"
    )
    assert not listed.get("Versions")
    assert not summary_path(settings, day).exists()
    out_dir = settings.output_dir / "mifir_rts22" / f"{day:%Y/%m/%d}"
    assert not list(out_dir.glob("*.xml"))
    with psycopg.connect(settings.warehouse_dsn) as conn:
        assert not [r for r in registry.list_reports(conn) if r["period_start"] == day]
