"""The local Airflow UI: login required, the DAG listed, a past day resubmitted from a trigger."""

from __future__ import annotations

import time
import urllib.error
from datetime import date
from typing import TYPE_CHECKING

import psycopg
import pytest

from regreport import archive, registry, submissions
from regreport.config import Settings
from regreport.generator import generate
from regreport.timetables import next_business_day

if TYPE_CHECKING:
    from tests.e2e.conftest import AirflowApi

pytestmark = pytest.mark.e2e
DAG_ID = "mifir_transactions_daily"


@pytest.fixture(scope="module")
def token(airflow_api: AirflowApi) -> str:
    return airflow_api.login("admin")


def test_login_is_required(airflow_api: AirflowApi) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        airflow_api.call("/api/v2/dags")
    assert caught.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        airflow_api.call(
            "/auth/token", body={"username": "admin", "password": "wrong"}, method="POST"
        )
    assert wrong.value.code in (400, 401)


def test_dag_is_listed(airflow_api: AirflowApi, token: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dags = airflow_api.call("/api/v2/dags", token)["dags"]
        if any(d["dag_id"] == DAG_ID for d in dags):
            break
        time.sleep(3)
    listed = {d["dag_id"]: d for d in dags}
    assert DAG_ID in listed
    assert listed[DAG_ID]["dag_display_name"] == "MiFIR transaction reports (daily)"


def test_trigger_a_past_day(airflow_api: AirflowApi, token: str, services: Settings) -> None:
    """What a compliance user does from the trigger form: pick the report date, run."""
    settings = services
    client = archive.s3_client(settings)
    archive.ensure_bucket(client, settings.s3_bucket)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        registry.ensure_schema(conn)
        conn.commit()
        taken = {r["period_start"] for r in registry.list_reports(conn)}
    day = next_business_day(date(2026, 9, 1))
    while day in taken or client.list_object_versions(
        Bucket=settings.s3_bucket, Prefix=f"mifir_rts22/{day:%Y/%m/%d}/"
    ).get("Versions"):
        day = next_business_day(date.fromordinal(day.toordinal() + 1))
    generate(settings.source_dsn, day, orders=300, seed=21)

    airflow_api.call(f"/api/v2/dags/{DAG_ID}", token, body={"is_paused": False}, method="PATCH")
    run_id = f"test_ui_{day:%Y%m%d}_{int(time.time())}"
    run = airflow_api.call(
        f"/api/v2/dags/{DAG_ID}/dagRuns",
        token,
        body={"dag_run_id": run_id, "logical_date": None, "conf": {"report_date": str(day)}},
        method="POST",
    )
    assert run["conf"] == {"report_date": str(day)}
    # Unpausing lets the scheduler start the latest business day's run first (one run at a
    # time): this run may wait for it.
    deadline = time.monotonic() + 1200
    state = run["state"]
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(5)
        state = airflow_api.call(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token)["state"]
    assert state == "success"
    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = [r for r in registry.list_reports(conn) if r["period_start"] == day]
    assert len(rows) == 1
    assert rows[0]["status"] == "ARCHIVED"
    # Submitted by the run, and answered: the regulator's verdict arrived through the triggerer
    # or at the first collection.
    with psycopg.connect(settings.warehouse_dsn) as conn:
        status = submissions.status(conn, rows[0]["report_id"])
    assert status.status in ("ACCEPTED", "PARTIALLY_ACCEPTED")
    assert status.remote_name == rows[0]["file_name"]


def test_a_viewer_cannot_trigger_and_an_operator_can(
    airflow_api: AirflowApi, services: Settings
) -> None:
    """Least privilege in the UI: the auditor (viewer) reads; the operator (op) triggers."""
    dag = "mifir_feedback_collect"  # paused: a triggered run stays queued and does nothing
    viewer = airflow_api.login("auditor")
    assert airflow_api.wait_for_dag(viewer, dag)["dag_id"] == dag  # may read
    body = {"dag_run_id": f"viewer_{int(time.time())}", "logical_date": None}
    with pytest.raises(urllib.error.HTTPError) as refused:
        airflow_api.call(f"/api/v2/dags/{dag}/dagRuns", viewer, body=body, method="POST")
    assert refused.value.code == 403
    operator = airflow_api.login("operator")
    run_id = f"operator_{int(time.time())}"
    run = airflow_api.call(
        f"/api/v2/dags/{dag}/dagRuns",
        operator,
        body={"dag_run_id": run_id, "logical_date": None},
        method="POST",
    )
    assert run["dag_run_id"] == run_id


def test_an_operator_runs_a_risk_backtest_from_the_ui(
    airflow_api: AirflowApi, services: Settings
) -> None:
    """The compliance operator triggers risk_rules_backtest with a date range and a mode."""
    dag = "risk_rules_backtest"
    day = date(2026, 9, 29)
    generate(services.source_dsn, day, orders=200, seed=23)
    operator = airflow_api.login("operator")
    airflow_api.wait_for_dag(operator, dag)
    airflow_api.call(f"/api/v2/dags/{dag}", operator, body={"is_paused": False}, method="PATCH")
    run_id = f"test_ui_risk_{int(time.time())}"
    conf = {"date_from": str(day), "date_to": str(day), "include_testing": True}
    body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
    airflow_api.call(f"/api/v2/dags/{dag}/dagRuns", operator, body=body, method="POST")
    deadline = time.monotonic() + 900
    state = "queued"
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(5)
        state = airflow_api.call(f"/api/v2/dags/{dag}/dagRuns/{run_id}", operator)["state"]
    assert state == "success"
    with psycopg.connect(services.warehouse_dsn) as conn:
        orders = conn.execute(
            "select orders from regreport.risk_replays where replay_id = %s",
            (f"risk-{day:%Y%m%d}-{day:%Y%m%d}-asrecorded-testing",),
        ).fetchone()
    assert orders is not None
    assert orders[0] >= 200
