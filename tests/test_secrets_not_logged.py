"""No configured secret ever reaches a log: one full daily DAG run, then grep everything.

The run goes through `airflow dags test` (as the e2e DAG tests do) with a PostgreSQL password
unique to this session (the local cluster trusts loopback, so any password works, and a unique
one cannot match by accident). Then the subprocess output, every file under the Airflow log
folder and the project's log folder, and the PostgreSQL server log are searched for each
secret, clear and URL-encoded: the database password, the S3 secret key, the gateway password,
the Airflow admin password, the password of every ``AIRFLOW_CONN_*`` connection, the Airflow
API/JWT secrets and any ``REGREPORT_DB_PASSWORD_*``. A hit fails with the file, the line and
a redacted context, never the secret itself.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import pytest

from regreport import local_airflow, roles
from regreport.config import Settings
from regreport.generator import generate
from regreport.services import gateway
from regreport.services.postgres import data_dir

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

DAG_ID = "mifir_transactions_daily"
ORDERS = 200
#: Shorter values would match ordinary words in a log; a secret this short is itself a finding.
MIN_SECRET_LENGTH = 8
_CONTEXT = 40


def _conn_password(value: str) -> str | None:
    """The password part of an ``AIRFLOW_CONN_*`` value (JSON or URI form)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        password = urlsplit(value).password
        return unquote(password) if password else None
    return parsed.get("password") if isinstance(parsed, dict) else None


def configured_secrets(settings: Settings) -> dict[str, str]:
    """Every secret the local deployment is configured with, by a name safe to print."""
    found = {
        "REGREPORT_PG_PASSWORD": settings.pg_password,
        "REGREPORT_S3_SECRET_KEY": settings.s3_secret_key,
        "REGREPORT_GATEWAY_PASSWORD": settings.gateway_password,
    }
    for name, value in local_airflow.airflow_env(settings).items():
        if name.startswith("AIRFLOW_CONN_") and (password := _conn_password(value)):
            found[f"{name} password"] = password
    admin_file = local_airflow.admin_password_file(settings)
    if admin_file.exists():
        text = admin_file.read_text().strip()
        try:
            users = json.loads(text)
        except ValueError:
            users = {"admin": text}
        for user, password in users.items():
            found[f"Airflow password of {user}"] = password
    local = settings.airflow_home / "local-secrets.json"
    if local.exists():
        for key, value in json.loads(local.read_text()).items():
            found[f"Airflow {key} secret"] = value
    for role, password in roles.passwords_from_env().items():
        found[roles.PASSWORD_ENV[role]] = password
    return {name: value for name, value in found.items() if value}


def _needles(secrets: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, text to look for): each secret as is and URL-encoded (as in a DSN)."""
    out = []
    for name, value in secrets.items():
        for form in dict.fromkeys((value, quote(value, safe=""))):
            out.append((name, form))
    return out


def _redact(text: str, secrets: Mapping[str, str]) -> str:
    for name, form in sorted(_needles(secrets), key=lambda n: -len(n[1])):
        text = text.replace(form, f"<{name}>")
    return text


def find_leaks(sources: Iterable[tuple[str, str]], secrets: Mapping[str, str]) -> list[str]:
    """Describe each (source, secret) hit as "source:line: <secret name>: redacted context"."""
    needles = _needles(secrets)
    leaks = []
    for source, text in sources:
        for lineno, line in enumerate(text.splitlines(), 1):
            for name, form in needles:
                at = line.find(form)
                if at < 0:
                    continue
                context = line[max(0, at - _CONTEXT) : at + len(form) + _CONTEXT]
                leaks.append(f"{source}:{lineno}: {name}: ...{_redact(context, secrets)}...")
    return leaks


def _log_files(folders: Iterable[Path]) -> Iterator[tuple[str, str]]:
    for folder in folders:
        if not folder.exists():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            yield str(path), path.read_bytes().decode("utf-8", errors="replace")


@pytest.mark.unit
def test_find_leaks_names_the_file_and_hides_the_secret() -> None:
    secrets = {"S3 key": "s3cr3t/with+odd=chars", "other": "never-there-123"}
    sources = [
        ("task.log", "ok\nconnecting with key=s3cr3t/with+odd=chars to s3\n"),
        ("api.log", "dsn postgresql://u:s3cr3t%2Fwith%2Bodd%3Dchars@host/db\n"),
        ("clean.log", "nothing here\n"),
    ]
    leaks = find_leaks(sources, secrets)
    assert len(leaks) == 2
    assert leaks[0].startswith("task.log:2: S3 key: ")
    assert leaks[1].startswith("api.log:1: S3 key: ")
    assert all("s3cr3t" not in leak and "<S3 key>" in leak for leak in leaks)


@pytest.fixture(scope="module")
def secret_settings(services: Settings, gateway_service: Settings) -> Iterator[Settings]:
    """Test settings with a database password unique to this session, also in the env."""
    mp = pytest.MonkeyPatch()
    password = f"pg-{uuid.uuid4().hex}"
    mp.setenv("REGREPORT_PG_PASSWORD", password)
    settings = dataclasses.replace(services, pg_password=password)
    local_airflow.prepare(settings, log=lambda _line: None)
    yield settings
    mp.undo()


@pytest.mark.e2e
def test_no_secret_in_the_logs_of_a_full_run(secret_settings: Settings, fresh_day) -> None:
    settings = secret_settings
    day = fresh_day(settings, date(2026, 9, 1))
    generate(settings.source_dsn, day, orders=ORDERS, seed=23)
    gateway.publish_source_instruments(settings)
    proc = local_airflow.run_airflow(
        settings, ["dags", "test", DAG_ID, day.isoformat()], check=False, capture=True
    )
    secrets = configured_secrets(settings)
    output = [("airflow dags test (stdout)", proc.stdout), ("(stderr)", proc.stderr)]
    assert proc.returncode == 0, _redact((proc.stdout + proc.stderr)[-3000:], secrets)

    short = sorted(name for name, value in secrets.items() if len(value) < MIN_SECRET_LENGTH)
    assert not short, f"secrets too short to search the logs for: {short}"
    assert {"REGREPORT_PG_PASSWORD", "REGREPORT_S3_SECRET_KEY"} <= secrets.keys()
    assert any(name.startswith("AIRFLOW_CONN_") for name in secrets)
    folders = (settings.airflow_home / "logs", settings.home / "logs")
    files = list(_log_files(folders))
    # `dags test` runs the tasks in-process: their logs are in the captured output.
    assert "archive" in proc.stdout + proc.stderr, "no task output was captured"
    server_log = data_dir(settings) / "postgres.log"
    if server_log.exists():
        files.append((str(server_log), server_log.read_text(errors="replace")))
    leaks = find_leaks([*output, *files], secrets)
    assert not leaks, "secrets found in logs:\n" + "\n".join(leaks[:20])
