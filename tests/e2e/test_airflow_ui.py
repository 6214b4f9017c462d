"""The local Airflow UI: login required, the DAG listed, a past day resubmitted from a trigger."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import date
from typing import Any

import psycopg
import pytest

from regreport import archive, local_airflow, registry, submissions
from regreport.config import Settings
from regreport.generator import generate
from regreport.timetables import next_business_day

pytestmark = pytest.mark.e2e
DAG_ID = "mifir_transactions_daily"


def _call(url: str, token: str | None = None, body: Any = None, method: str = "GET") -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


@pytest.fixture(scope="module")
def ui(services: Settings, gateway_service: Settings):
    local_airflow.start_ui(services, log=lambda _line: None)
    yield f"http://127.0.0.1:{services.airflow_port}"
    local_airflow.stop_ui(services, log=lambda _line: None)


def _login(ui: str, settings: Settings, user: str) -> str:
    password = json.loads(local_airflow.admin_password_file(settings).read_text())[user]
    reply = _call(f"{ui}/auth/token", body={"username": user, "password": password}, method="POST")
    return str(reply["access_token"])


@pytest.fixture(scope="module")
def token(ui: str, services: Settings) -> str:
    return _login(ui, services, "admin")


def test_login_is_required(ui: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        _call(f"{ui}/api/v2/dags")
    assert caught.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        _call(f"{ui}/auth/token", body={"username": "admin", "password": "wrong"}, method="POST")
    assert wrong.value.code in (400, 401)


def test_dag_is_listed(ui: str, token: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dags = _call(f"{ui}/api/v2/dags", token)["dags"]
        if any(d["dag_id"] == DAG_ID for d in dags):
            break
        time.sleep(3)
    listed = {d["dag_id"]: d for d in dags}
    assert DAG_ID in listed
    assert listed[DAG_ID]["dag_display_name"] == "MiFIR transaction reports (daily)"


def test_trigger_a_past_day(ui: str, token: str, services: Settings) -> None:
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

    _call(f"{ui}/api/v2/dags/{DAG_ID}", token, body={"is_paused": False}, method="PATCH")
    run_id = f"test_ui_{day:%Y%m%d}_{int(time.time())}"
    run = _call(
        f"{ui}/api/v2/dags/{DAG_ID}/dagRuns",
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
        state = _call(f"{ui}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token)["state"]
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


def test_a_viewer_cannot_trigger_and_an_operator_can(ui: str, services: Settings) -> None:
    """Least privilege in the UI: the auditor (viewer) reads; the operator (op) triggers."""
    dag = "mifir_feedback_collect"  # paused: a triggered run stays queued and does nothing
    viewer = _login(ui, services, "auditor")
    deadline = time.monotonic() + 120
    while True:  # the dag-processor may still be parsing the folder
        try:
            assert _call(f"{ui}/api/v2/dags/{dag}", viewer)["dag_id"] == dag  # may read
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(2)
    body = {"dag_run_id": f"viewer_{int(time.time())}", "logical_date": None}
    with pytest.raises(urllib.error.HTTPError) as refused:
        _call(f"{ui}/api/v2/dags/{dag}/dagRuns", viewer, body=body, method="POST")
    assert refused.value.code == 403
    operator = _login(ui, services, "operator")
    run_id = f"operator_{int(time.time())}"
    run = _call(
        f"{ui}/api/v2/dags/{dag}/dagRuns",
        operator,
        body={"dag_run_id": run_id, "logical_date": None},
        method="POST",
    )
    assert run["dag_run_id"] == run_id


def test_an_operator_runs_a_risk_backtest_from_the_ui(ui: str, services: Settings) -> None:
    """The compliance operator triggers risk_rules_backtest with a date range and a mode."""
    dag = "risk_rules_backtest"
    day = date(2026, 9, 29)
    generate(services.source_dsn, day, orders=200, seed=23)
    operator = _login(ui, services, "operator")
    deadline = time.monotonic() + 120
    while True:  # the dag-processor may still be parsing the folder
        try:
            _call(f"{ui}/api/v2/dags/{dag}", operator)
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(2)
    _call(f"{ui}/api/v2/dags/{dag}", operator, body={"is_paused": False}, method="PATCH")
    run_id = f"test_ui_risk_{int(time.time())}"
    conf = {"date_from": str(day), "date_to": str(day), "include_testing": True}
    body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
    _call(f"{ui}/api/v2/dags/{dag}/dagRuns", operator, body=body, method="POST")
    deadline = time.monotonic() + 900
    state = "queued"
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(5)
        state = _call(f"{ui}/api/v2/dags/{dag}/dagRuns/{run_id}", operator)["state"]
    assert state == "success"
    with psycopg.connect(services.warehouse_dsn) as conn:
        orders = conn.execute(
            "select orders from regreport.risk_replays where replay_id = %s",
            (f"risk-{day:%Y%m%d}-{day:%Y%m%d}-asrecorded-testing",),
        ).fetchone()
    assert orders is not None
    assert orders[0] >= 200
