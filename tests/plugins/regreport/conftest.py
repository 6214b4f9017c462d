"""A running gateway simulator with an Airflow connection (env) that pins its host key."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from regreport.gateway import FirmUser, Gateway, GatewayConfig, hash_password
from regreport.gateway.server import GatewayServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: The connection id the `gateway_server` fixture sets (as AIRFLOW_CONN_...).
CONN_ID = "trigger_test_sftp"
PASSWORD = "trigger-test-pass"


@pytest.fixture
def gateway_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayServer]:
    """A gateway with one firm, and an Airflow connection (env) that pins its key."""
    root = tmp_path / "gw"
    root.mkdir()
    config = GatewayConfig.from_mapping(
        root,
        {"users": [FirmUser("firm", hash_password(PASSWORD), "FIRM")], "tick_seconds": None},
    )
    with GatewayServer(Gateway(config)) as srv:
        conn = {
            "conn_type": "sftp",
            "host": "127.0.0.1",
            "port": srv.port,
            "login": "firm",
            "password": PASSWORD,
            "extra": {"host_key": srv.known_hosts_line()},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
        (config.firm_dir("FIRM") / "outbox").mkdir(parents=True, exist_ok=True)
        yield srv
