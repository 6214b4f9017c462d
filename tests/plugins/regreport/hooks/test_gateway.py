"""The Airflow hook for the regulator's gateway, against the real simulator."""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING

import pytest

from regreport.gateway.server import known_hosts_line, load_or_create_host_key
from regreport.hooks.gateway import RegulatorGatewayHook
from regreport.sftp import HostKeyMismatchError

if TYPE_CHECKING:
    from pathlib import Path

    from regreport.gateway.server import GatewayServer

pytestmark = pytest.mark.integration

#: Set by the `gateway_server` fixture (tests/plugins/regreport/conftest.py).
CONN_ID = "trigger_test_sftp"


def test_target_pins_the_key_and_test_connection_lists_the_outbox(
    gateway_server: GatewayServer,
) -> None:
    hook = RegulatorGatewayHook(CONN_ID)
    target = hook.get_conn()
    assert (target.host, target.port, target.username) == ("127.0.0.1", gateway_server.port, "firm")
    assert "password" not in json.dumps(hook.describe())
    assert hook.test_connection() == (True, "connected; 0 file(s) in the outbox")


def test_upload_once_lands_in_the_inbox_once(gateway_server: GatewayServer, tmp_path: Path) -> None:
    hook = RegulatorGatewayHook(CONN_ID)
    local = tmp_path / "any.bin"
    local.write_bytes(b"not a report")
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    first = hook.upload_once(local, "any.bin", digest)
    again = hook.upload_once(local, "any.bin", digest)
    assert (first.already_present, again.already_present) == (False, True)
    inbox = gateway_server.gateway.config.firm_dir("FIRM") / "inbox"
    assert (inbox / "any.bin").read_bytes() == b"not a report"


def test_a_wrong_pin_is_refused(
    gateway_server: GatewayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    load_or_create_host_key(other)
    conn = json.loads(os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"])
    conn["extra"]["host_key"] = known_hosts_line(other, "127.0.0.1", gateway_server.port)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    hook = RegulatorGatewayHook(CONN_ID)
    with pytest.raises(HostKeyMismatchError):
        hook.list_outbox()
    ok, message = hook.test_connection()
    assert not ok
    assert "host key" in message.lower()
