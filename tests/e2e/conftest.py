"""The running Airflow UI (api-server, scheduler, dag-processor, triggerer) shared by the UI tests.

Starting it takes about 25 s, so it is started once per session and stopped at the end.
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


@pytest.fixture(scope="session")
def ui(services: Settings, gateway_service: Settings) -> Iterator[str]:
    """The base URL of a running local Airflow UI (left running if it was already)."""
    was_running = local_airflow.ui_running(services)
    local_airflow.start_ui(services, log=lambda _line: None)
    yield f"http://127.0.0.1:{services.airflow_port}"
    if not was_running:
        local_airflow.stop_ui(services, log=lambda _line: None)


@pytest.fixture(scope="session")
def airflow_api(ui: str, services: Settings) -> AirflowApi:
    """REST access to the running UI."""
    return AirflowApi(ui, services)
