from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from regreport import services as svc
from regreport.services import postgres, seaweedfs
from regreport.services._common import pid_alive

if TYPE_CHECKING:
    from regreport.config import Settings

pytestmark = pytest.mark.integration


def test_start_twice_is_idempotent(services: Settings, gateway_service: Settings) -> None:
    before = svc.status(services)
    lines: list[str] = []
    started = time.monotonic()
    svc.start(services, log=lines.append)
    assert time.monotonic() - started < 5
    assert svc.status(services) == before
    assert len(lines) == len(svc.SERVICES)
    assert all("already running" in line for line in lines)


def test_status_reports_running(services: Settings, gateway_service: Settings) -> None:
    status = svc.status(services)
    assert set(status) == {"postgres", "s3", "gateway"}
    for name, item in status.items():
        assert item.name == name
        assert item.running
        assert item.pid is not None
        os.kill(item.pid, 0)
        assert item.data_dir.is_dir()
    # Under REGREPORT_HOME, unless the postgres user cannot reach it (postgres.data_dir).
    assert status["s3"].data_dir.is_relative_to(services.home)
    assert status["postgres"].data_dir == postgres.data_dir(services)
    assert (status["postgres"].data_dir / "data" / "PG_VERSION").is_file()
    assert status["s3"].endpoint == services.s3_endpoint
    assert f":{services.pg_port}/" in status["postgres"].endpoint
    assert (services.home / "run" / "postgres.pid").read_text().split()[0] == str(
        status["postgres"].pid
    )


def test_databases_exist(pg_services: Settings) -> None:
    svc.ensure_databases(pg_services)  # Idempotent on existing databases.
    wanted = {pg_services.source_db, pg_services.warehouse_db, pg_services.airflow_db}
    with psycopg.connect(pg_services.dsn("postgres")) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert wanted <= names
    for name in wanted:
        with psycopg.connect(pg_services.dsn(name)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)


def test_durability_is_kept(pg_services: Settings) -> None:
    with psycopg.connect(pg_services.dsn("postgres")) as conn:
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        assert conn.execute("SHOW listen_addresses").fetchone() == (pg_services.pg_host,)


def test_stale_pid_file_is_cleaned(services: Settings) -> None:
    pid_file = services.home / "run" / "seaweedfs.pid"
    real = pid_file.read_text()
    try:
        pid_file.write_text("999999999\n")  # No such process.
        assert seaweedfs.running_pid(services) is None
        assert not pid_file.exists()
    finally:
        pid_file.write_text(real)
    assert svc.status(services)["s3"].running


def test_unknown_service_is_rejected(settings: Settings) -> None:
    with pytest.raises(ValueError, match="Unknown service"):
        svc.start(settings, ("mysql",))


def _free_port() -> int:
    """A free port p whose gRPC companion p+10000 is free too (SeaweedFS uses both)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 >= 65536:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


def test_full_lifecycle_from_scratch(settings: Settings) -> None:
    home = settings.home / f"lifecycle-{uuid.uuid4().hex[:8]}"
    s3_port = _free_port()
    own = dataclasses.replace(
        settings,
        home=home,
        pg_port=_free_port(),
        gateway_port=_free_port(),
        s3_port=s3_port,
        s3_endpoint=f"http://127.0.0.1:{s3_port}",
        seaweed_ports={"master": _free_port(), "volume": _free_port(), "filer": _free_port()},
    )
    lines: list[str] = []
    try:
        assert not any(item.running for item in svc.status(own).values())
        svc.stop(own, log=lines.append)  # Stopping what never ran is a no-op.
        svc.start(own, log=lines.append)
        assert all(item.running for item in svc.status(own).values())
        svc.ensure_databases(own)
        pids = {name: item.pid for name, item in svc.status(own).items()}
        svc.stop(own, log=lines.append)
        status = svc.status(own)
        assert not any(item.running for item in status.values())
        assert not list((home / "run").glob("*.pid"))
        for pid in pids.values():
            assert pid is not None
            assert not pid_alive(pid)
        svc.stop(own, log=lines.append)
        # Restart over the existing data: no second initdb, databases survive.
        svc.start(own, ("postgres",), log=lines.append)
        with psycopg.connect(own.dsn(own.warehouse_db)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        svc.stop(own, log=lines.append)
        shutil.rmtree(home, ignore_errors=True)
    assert sum("initdb" in line for line in lines) == 1
    assert any(line.startswith("s3: started") for line in lines)


@pytest.mark.unit
def test_cluster_moves_out_of_a_home_postgres_cannot_reach(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "_as_root", lambda: True)
    monkeypatch.setattr(postgres, "_reachable_by_postgres", lambda _home: True)
    assert postgres.data_dir(settings) == settings.home / "postgres"
    monkeypatch.setattr(postgres, "_reachable_by_postgres", lambda _home: False)
    moved = postgres.data_dir(settings)
    assert moved.parent == Path("/var/lib/regreport")
    assert moved.name.startswith("postgres-")
    other = dataclasses.replace(settings, home=settings.home / "elsewhere")
    assert postgres.data_dir(other) != moved  # one cluster per state folder
