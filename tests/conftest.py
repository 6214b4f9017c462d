"""Shared fixtures: test-only settings and the local services, started on demand.

The environment defaults below are set at import time so that tests never touch the demo's
state or ports: they use ``.regreport/test`` and their own ports. Services started here are
left running after the session (starting is idempotent, so the next run reuses them); stop
them with ``REGREPORT_HOME=.regreport/test regreport services stop`` or leave them be.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

_REPO = Path(__file__).resolve().parents[1]
_TEST_ENV = {
    "REGREPORT_HOME": str(_REPO / ".regreport" / "test"),
    "REGREPORT_PG_PORT": "55442",
    "REGREPORT_S3_PORT": "18343",
    "REGREPORT_SEAWEED_MASTER_PORT": "19343",
    "REGREPORT_SEAWEED_VOLUME_PORT": "18091",
    "REGREPORT_SEAWEED_FILER_PORT": "18898",
    "REGREPORT_AIRFLOW_PORT": "18070",
    "REGREPORT_GATEWAY_PORT": "18032",
}
for _name, _value in _TEST_ENV.items():
    os.environ.setdefault(_name, _value)

from regreport.config import Settings  # noqa: E402 - must see the test environment.
from regreport.local_airflow import airflow_env  # noqa: E402

# Airflow reads its configuration when first imported: point it at the test state (never
# ~/airflow) before any test module imports it.
for _name, _value in airflow_env(Settings.from_env()).items():
    if _name.startswith(("AIRFLOW", "GX_", "DBT_", "DO_NOT_TRACK")):
        os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings read from the (test-defaulted) environment."""
    return Settings.from_env()


@pytest.fixture(scope="session")
def pg_services(settings: Settings) -> Settings:
    """The local PostgreSQL cluster, running, with the project's databases."""
    from regreport import services as svc

    svc.start(settings, ("postgres",))
    svc.ensure_databases(settings)
    return settings


@pytest.fixture(scope="session")
def s3_services(settings: Settings) -> Settings:
    """The local S3 service (SeaweedFS), running."""
    from regreport import services as svc

    svc.start(settings, ("s3",))
    return settings


@pytest.fixture(scope="session")
def gateway_service(settings: Settings) -> Settings:
    """The local regulator SFTP gateway simulator, running, with its Airflow connection set.

    The connection pins the host key made at the first start, so on a clean clone it is not
    in the environment set at import time above; set it here so tests see it on every run.
    """
    from regreport import services as svc
    from regreport.config import SFTP_CONN_ID

    svc.start(settings, ("gateway",))
    name = f"AIRFLOW_CONN_{SFTP_CONN_ID.upper()}"
    os.environ[name] = airflow_env(settings)[name]
    return settings


@pytest.fixture(scope="session")
def services(pg_services: Settings, s3_services: Settings) -> Settings:
    """Both local services, running."""
    return pg_services


@pytest.fixture
def scratch_db(pg_services: Settings) -> Iterator[Callable[[str], str]]:
    """Make an empty database by name (a leftover of a crashed run is dropped first) and
    return its DSN; every database made is dropped after the test."""
    made: list[str] = []

    def admin(sql: str) -> None:
        with psycopg.connect(pg_services.dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def make(name: str) -> str:
        admin(f"drop database if exists {name}")
        admin(f"create database {name}")
        made.append(name)
        return pg_services.dsn(name)

    yield make
    for name in made:
        admin(f"drop database if exists {name}")


@pytest.fixture
def fresh_day() -> Callable[[Settings, date], date]:
    """Find the first business day from a start date that the state never reported.

    Archived objects are locked and cannot be removed, so end-to-end tests never reuse a day:
    the day must have no registry row and no archived object.
    """
    from regreport import archive, registry
    from regreport.timetables import next_business_day

    def find(settings: Settings, start: date) -> date:
        client = archive.s3_client(settings)
        with psycopg.connect(settings.warehouse_dsn) as conn:
            registry.ensure_schema(conn)
            conn.commit()
            taken = {r["period_start"] for r in registry.list_reports(conn)}
        archive.ensure_bucket(client, settings.s3_bucket)
        day = next_business_day(start)
        while True:
            listed = client.list_object_versions(
                Bucket=settings.s3_bucket, Prefix=f"mifir_rts22/{day:%Y/%m/%d}/"
            )
            if day not in taken and not listed.get("Versions"):
                return day
            day = next_business_day(day + timedelta(days=1))

    return find
