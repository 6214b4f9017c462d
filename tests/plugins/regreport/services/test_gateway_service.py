"""The regulator gateway simulator as a local service, and its Airflow connection."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import tomllib
from typing import TYPE_CHECKING

import asyncssh
import pytest

from regreport import services as svc
from regreport import sftp
from regreport.config import SFTP_CONN_ID
from regreport.gateway.config import verify_password
from regreport.local_airflow import airflow_env
from regreport.services import ServiceError, gateway
from regreport.services._common import pid_alive

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from regreport.config import Settings

CONN_VAR = f"AIRFLOW_CONN_{SFTP_CONN_ID.upper()}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _own(settings: Settings, home: Path) -> Settings:
    """Settings with a private home and port, so the shared test gateway is never touched."""
    return dataclasses.replace(settings, home=home, gateway_port=_free_port())


@pytest.fixture(autouse=True)
def _no_root_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # gateway_root follows `home` unless this is set; the tests rely on that.
    monkeypatch.delenv("REGREPORT_GATEWAY_ROOT", raising=False)


@pytest.fixture(scope="module")
def running(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A private gateway for this module, stopped at the end."""
    own = _own(settings, tmp_path_factory.mktemp("gw") / "home")
    svc.start(own, ("gateway",), log=lambda _line: None)
    try:
        yield own
    finally:
        svc.stop(own, ("gateway",), log=lambda _line: None)


def _target(settings: Settings) -> sftp.SftpTarget:
    value = airflow_env(settings)[CONN_VAR]
    return sftp.SftpTarget.from_mapping(json.loads(value))


# -- without a process ---------------------------------------------------------------------------


@pytest.mark.unit
def test_no_connection_and_no_pin_before_first_start(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONN_VAR, raising=False)  # conftest may have set the shared one
    own = _own(settings, tmp_path / "home")
    assert CONN_VAR not in airflow_env(own)
    with pytest.raises(ServiceError, match="no host key yet"):
        gateway.known_hosts_line(own)
    assert not gateway.status(own).running


@pytest.mark.unit
def test_config_keeps_hash_and_operator_settings(settings: Settings, tmp_path: Path) -> None:
    own = _own(settings, tmp_path / "home")
    path = gateway.write_config(own)
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_text()
    assert own.gateway_password not in first
    data = tomllib.loads(first)
    assert data["instruments_file"] == "instruments.txt"
    assert data["schemas_dir"] == str(own.schemas_dir)
    (user,) = data["users"]
    assert (user["name"], user["firm"]) == (own.gateway_user, own.gateway_firm)
    assert verify_password(own.gateway_password, user["password_hash"])

    # Unchanged password: same hash, same file. Scripted outcomes survive a rewrite.
    path.write_text(first + '\n[[outcomes]]\ntx_id = "TX1"\nrecord_status = "RJCT"\n')
    gateway.write_config(own)
    kept = tomllib.loads(path.read_text())
    assert kept["users"][0]["password_hash"] == user["password_hash"]
    assert kept["outcomes"] == [{"tx_id": "TX1", "record_status": "RJCT"}]

    changed = dataclasses.replace(own, gateway_password="another-secret")
    gateway.write_config(changed)
    new_hash = tomllib.loads(path.read_text())["users"][0]["password_hash"]
    assert new_hash != user["password_hash"]
    assert verify_password("another-secret", new_hash)


@pytest.mark.unit
def test_publish_instruments_sorted_unique(settings: Settings, tmp_path: Path) -> None:
    own = _own(settings, tmp_path / "home")
    count = gateway.publish_instruments(
        own, ["US0378331005", " DE0005140008 ", "us0378331005", "FR0000120271", ""]
    )
    assert count == 3
    lines = (own.gateway_root / "instruments.txt").read_text().splitlines()
    assert lines[0].startswith("#")
    assert [line for line in lines if not line.startswith("#")] == [
        "DE0005140008",
        "FR0000120271",
        "US0378331005",
    ]
    with pytest.raises(ValueError, match="not ISINs"):
        gateway.publish_instruments(own, ["NOT-AN-ISIN"])
    assert gateway.firm_dir(own) == own.gateway_root / "firms" / own.gateway_firm


# -- with a running gateway ----------------------------------------------------------------------


@pytest.mark.integration
def test_start_is_idempotent_and_status_shows_it(running: Settings) -> None:
    before = svc.status(running)["gateway"]
    lines: list[str] = []
    svc.start(running, ("gateway",), log=lines.append)
    assert lines == [f"gateway: already running (pid {before.pid}) on {gateway.endpoint(running)}"]
    after = svc.status(running)["gateway"]
    assert after == before
    assert after.running
    assert after.pid is not None
    assert pid_alive(after.pid)
    assert after.endpoint == f"sftp://{running.gateway_host}:{running.gateway_port}"
    assert after.data_dir == running.gateway_root
    assert (running.gateway_root / "instruments.txt").is_file()
    assert (gateway.firm_dir(running) / "inbox").is_dir()
    text = (running.gateway_root / "gateway.toml").read_text()
    assert running.gateway_password not in text
    assert "scrypt$" in text


@pytest.mark.integration
def test_airflow_connection_lists_the_outbox(running: Settings) -> None:
    target = _target(running)
    assert (target.host, target.port) == (running.gateway_host, running.gateway_port)
    assert target.username == running.gateway_user
    assert (target.inbox_dir, target.outbox_dir) == ("inbox", "outbox")
    assert target.host_key == gateway.known_hosts_line(running)
    assert target.host_key.startswith(f"[127.0.0.1]:{running.gateway_port} ssh-ed25519 ")
    assert sftp.list_outbox(target, retry=sftp.RetryPolicy(attempts=1)) == []


@pytest.mark.integration
def test_wrong_pin_is_refused(running: Settings) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    pin = f"[127.0.0.1]:{running.gateway_port} {' '.join(other.split()[:2])}"
    target = dataclasses.replace(_target(running), host_key=pin)
    with pytest.raises(sftp.HostKeyMismatchError):
        sftp.list_outbox(target, retry=sftp.RetryPolicy(attempts=1))


@pytest.mark.integration
def test_stop_then_status_stopped(settings: Settings, tmp_path: Path) -> None:
    own = _own(settings, tmp_path / "home")
    lines: list[str] = []
    svc.start(own, ("gateway",), log=lines.append)
    pid = svc.status(own)["gateway"].pid
    assert pid is not None
    svc.stop(own, ("gateway",), log=lines.append)
    state = svc.status(own)["gateway"]
    assert not state.running
    assert state.pid is None
    assert not pid_alive(pid)
    assert not (own.home / "run" / "gateway.pid").exists()
    assert not (gateway.process_run_dir(own) / "gateway.port").exists()
    svc.stop(own, ("gateway",), log=lines.append)  # stopping a stopped gateway is a no-op
    assert lines[-1] == "gateway: not running"


@pytest.mark.integration
def test_shared_test_gateway_fixture(gateway_service: Settings) -> None:
    state = svc.status(gateway_service)["gateway"]
    assert state.running
    assert str(gateway_service.gateway_port) in state.endpoint
    target = sftp.SftpTarget.from_mapping(json.loads(os.environ[CONN_VAR]))
    assert target.port == gateway_service.gateway_port
    assert target.host_key == gateway.known_hosts_line(gateway_service)
