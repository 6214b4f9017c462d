"""The running Airflow UI (api-server, scheduler, dag-processor, triggerer) for the UI tests.

It is started per test module and stopped after it, so that its scheduler (which starts the
latest scheduled run of an unpaused DAG) never competes with the `airflow dags test` modules.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from regreport import local_airflow
from regreport.config import Settings


def _api_call(url: str, token: str | None = None, body: Any = None, method: str = "GET") -> Any:
    """One JSON call to the Airflow REST API (raises `urllib.error.HTTPError` on 4xx/5xx)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _password(settings: Settings, user: str) -> str:
    """The generated UI password of a local user (admin, operator, auditor)."""
    return str(json.loads(local_airflow.admin_password_file(settings).read_text())[user])


class AirflowApi:
    """The local Airflow's REST API, for tests: log in as a local user, call, wait."""

    def __init__(self, base: str, settings: Settings) -> None:
        self.base = base
        self.settings = settings

    def call(
        self, path: str, token: str | None = None, body: Any = None, method: str = "GET"
    ) -> Any:
        """`path` relative to the server root, e.g. ``/api/v2/dags``."""
        return _api_call(self.base + path, token, body, method)

    def password(self, user: str) -> str:
        """The generated UI password of a local user (admin, operator, auditor)."""
        return _password(self.settings, user)

    def login(self, user: str) -> str:
        """A REST API token for a local UI user."""
        body = {"username": user, "password": self.password(user)}
        return str(self.call("/auth/token", body=body, method="POST")["access_token"])

    def wait_for_dag(self, token: str, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """The DAG's API record, once the dag-processor has parsed it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return dict(self.call(f"/api/v2/dags/{dag_id}", token))
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(2)


@pytest.fixture(scope="module")
def ui(services: Settings, gateway_service: Settings) -> Iterator[str]:
    """The base URL of a running local Airflow UI (left running if it was already)."""
    was_running = local_airflow.ui_running(services)
    local_airflow.start_ui(services, log=lambda _line: None)
    base = f"http://127.0.0.1:{services.airflow_port}"
    yield base
    if not was_running:
        _quiesce(AirflowApi(base, services))
        local_airflow.stop_ui(services, log=lambda _line: None)
        # A run the stop cut short cannot give the build lease back: the next module's
        # `airflow dags test` runs would wait for it.
        import psycopg

        from regreport import leases

        with psycopg.connect(services.warehouse_dsn) as conn:
            leases.release(conn, leases.WAREHOUSE_BUILD, None)


def _quiesce(api: AirflowApi, timeout: float = 300) -> None:
    """Pause every DAG and wait (bounded) for the runs in flight to finish."""
    token = api.login("admin")
    dags = api.call("/api/v2/dags?limit=100", token)["dags"]
    for dag in dags:
        if not dag["is_paused"]:
            api.call(f"/api/v2/dags/{dag['dag_id']}", token, {"is_paused": True}, "PATCH")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = api.call("/api/v2/dags/~/dagRuns?state=running&limit=1", token)
        if not running["total_entries"]:
            return
        time.sleep(5)


@pytest.fixture(scope="module")
def airflow_api(ui: str, services: Settings) -> AirflowApi:
    """REST access to the running UI."""
    return AirflowApi(ui, services)
