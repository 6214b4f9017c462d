"""Run the project's Airflow locally on the embedded services (no Docker).

Builds the environment an Airflow process needs (AIRFLOW_HOME under the project's state folder,
metadata DB in the local PostgreSQL, connections as `AIRFLOW_CONN_*`), and wraps the few Airflow
CLI calls the `regreport` command uses. Airflow itself runs as a subprocess so its import cost
and logging stay out of the CLI.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from regreport.config import (
    EXTRACT_CONN_ID,
    S3_CONN_ID,
    SFTP_CONN_ID,
    SOURCE_CONN_ID,
    TRANSFORM_CONN_ID,
    WAREHOUSE_CONN_ID,
    Settings,
)
from regreport.services._common import pid_alive, read_pid, run_dir, write_pid

ADMIN_USER = "admin"
#: Airflow UI users of the local stack and their simple-auth-manager roles: a compliance
#: operator triggers runs, backfills and resubmissions ("op"); an auditor only reads ("viewer").
UI_USERS = {ADMIN_USER: "admin", "operator": "op", "auditor": "viewer"}


def _pg_conn(settings: Settings, database: str, stage: str) -> str:
    """A Postgres connection that logs in as `stage`'s user (least privilege), never the admin."""
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": settings.pg_host,
            "port": settings.pg_port,
            "login": settings.db_user(stage),
            "password": settings.db_passwords[stage],
            "schema": database,
        }
    )


def _sftp_conn(settings: Settings) -> str | None:
    """The regulator gateway connection, or None before the gateway's first start.

    The pinned host key only exists once the gateway has run; without it there is no safe
    connection to offer (pinning is not optional), and failing here would break every caller
    of `airflow_env`, including test collection.
    """
    from regreport.services import ServiceError
    from regreport.services.gateway import known_hosts_line

    try:
        host_key = known_hosts_line(settings)
    except ServiceError:
        return None
    return json.dumps(
        {
            "conn_type": "sftp",
            "host": settings.gateway_host,
            "port": settings.gateway_port,
            "login": settings.gateway_user,
            "password": settings.gateway_password,
            "extra": {"host_key": host_key, "inbox": "inbox", "outbox": "outbox"},
        }
    )


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for an Airflow process that uses the local services.

    The regulator SFTP connection (`SFTP_CONN_ID`) is included once the local gateway has
    been started (it needs the gateway's host key to pin).
    """
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    password = quote(settings.pg_password, safe="")
    sql_conn = (
        f"postgresql+psycopg2://{settings.pg_user}:{password}@{settings.pg_host}:"
        f"{settings.pg_port}/{settings.airflow_db}"
    )
    s3_conn = json.dumps(
        {
            "conn_type": "aws",
            "login": settings.s3_access_key,
            "password": settings.s3_secret_key,
            "extra": {
                "endpoint_url": settings.s3_endpoint,
                "region_name": settings.s3_region,
                "config_kwargs": {"s3": {"addressing_style": "path"}},
            },
        }
    )
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.repo_root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.repo_root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # The default of 32 forks 32 workers (~1.1 GB); 4 suits a 2-core machine.
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role}" for user, role in UI_USERS.items()
            ),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_conn,
            "AIRFLOW__API__PORT": str(settings.airflow_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://127.0.0.1:{settings.airflow_port}/execution/"
            ),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # One login per pipeline stage (docs/security.md); the admin is never used by a DAG.
            f"AIRFLOW_CONN_{SOURCE_CONN_ID.upper()}": _pg_conn(
                settings, settings.source_db, "extract"
            ),
            f"AIRFLOW_CONN_{EXTRACT_CONN_ID.upper()}": _pg_conn(
                settings, settings.warehouse_db, "extract"
            ),
            f"AIRFLOW_CONN_{TRANSFORM_CONN_ID.upper()}": _pg_conn(
                settings, settings.warehouse_db, "transform"
            ),
            f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": _pg_conn(
                settings, settings.warehouse_db, "report"
            ),
            f"AIRFLOW_CONN_{S3_CONN_ID.upper()}": s3_conn,
            "GX_ANALYTICS_ENABLED": "False",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "DO_NOT_TRACK": "1",
            # Airflow spawns `airflow ...` subprocesses by name.
            "PATH": os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", ""))),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(settings.repo_root / "plugins"), env.get("PYTHONPATH", "")) if p
            ),
        }
    )
    # The DAG reads Settings from the environment: hand it the resolved values.
    for name, value in {
        "REGREPORT_HOME": settings.home,
        "REGREPORT_SCHEMAS_DIR": settings.schemas_dir,
        "REGREPORT_REFDATA_DIR": settings.refdata_dir,
        "REGREPORT_OUTPUT_DIR": settings.output_dir,
        "REGREPORT_S3_BUCKET": settings.s3_bucket,
        "REGREPORT_RETENTION_DAYS": settings.retention_days,
        "REGREPORT_GATEWAY_ROOT": settings.gateway_root,
        "REGREPORT_GATEWAY_FIRM": settings.gateway_firm,
    }.items():
        env.setdefault(name, str(value))
    sftp_conn = _sftp_conn(settings)
    if sftp_conn is not None:
        env[f"AIRFLOW_CONN_{SFTP_CONN_ID.upper()}"] = sftp_conn
    return env


def _airflow_bin() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else (shutil.which("airflow") or "airflow")


def run_airflow(
    settings: Settings, args: Sequence[str], *, capture: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run one `airflow ...` command with the local environment."""
    return subprocess.run(
        [_airflow_bin(), *args],
        env=airflow_env(settings),
        check=check,
        text=True,
        capture_output=capture,
    )


def prepare(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Migrate the metadata DB and parse the dbt project (Cosmos renders from its manifest)."""
    log("airflow: migrating the metadata database")
    run_airflow(settings, ["db", "migrate"], capture=True)
    dbt_parse(settings, log)


def dbt_parse(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Write dbt_project/target/manifest.json so DAG parsing never shells out to dbt."""
    log("dbt: parsing the project")
    dbt = Path(sys.executable).with_name("dbt")
    env = airflow_env(settings)
    env.update(
        {
            "REGREPORT_PG_HOST": settings.pg_host,
            "REGREPORT_PG_PORT": str(settings.pg_port),
            "REGREPORT_PG_USER": settings.pg_user,
            "REGREPORT_WAREHOUSE_DB": settings.warehouse_db,
        }
    )
    subprocess.run(
        [str(dbt), "parse", "--profiles-dir", ".", "--quiet"],
        cwd=settings.dbt_project_dir,
        env=env,
        check=True,
    )


def dags_test(
    settings: Settings, dag_id: str, logical_date: str, conf: dict[str, Any] | None = None
) -> int:
    """Run a whole DAG in-process for one logical date (`airflow dags test`).

    `conf` sets DAG params, as the trigger form does (e.g. ``{"only_rejected": True}``).
    """
    args = ["dags", "test", dag_id, logical_date]
    if conf:
        args += ["--conf", json.dumps(conf)]
    proc = run_airflow(settings, args, check=False)
    return proc.returncode


#: The Airflow 3 components the local UI runs, each in its own process session.
COMPONENTS: tuple[tuple[str, ...], ...] = (
    ("api-server",),
    ("scheduler",),
    ("dag-processor",),
    ("triggerer",),
)


def _pid_file(settings: Settings, component: str) -> Path:
    return run_dir(settings.home) / f"airflow-{component}.pid"


def _secrets(settings: Settings) -> dict[str, str]:
    """Per-installation secrets shared by the components (JWT for the execution API)."""
    path = settings.airflow_home / "local-secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"jwt": secrets.token_urlsafe(32), "api": secrets.token_urlsafe(32)})
        )
        path.chmod(0o600)
    data = json.loads(path.read_text())
    return {
        "AIRFLOW__API_AUTH__JWT_SECRET": data["jwt"],
        "AIRFLOW__API__SECRET_KEY": data["api"],
    }


def ui_running(settings: Settings) -> bool:
    """Whether every component's process is alive."""
    return all(_running_pid(settings, c[0]) is not None for c in COMPONENTS)


def _running_pid(settings: Settings, component: str) -> int | None:
    """The component's live pid; a stale pid file is removed."""
    return read_pid(_pid_file(settings, component), expect="airflow")


def start_ui(settings: Settings, log: Callable[[str], None] = print, timeout: float = 180) -> None:
    """Start api-server, scheduler, dag-processor and triggerer; wait until the API answers."""
    import urllib.request

    url = f"http://127.0.0.1:{settings.airflow_port}"
    if ui_running(settings):
        log(f"airflow: already running, {url}")
        return
    stop_ui(settings, log=lambda _line: None)
    prepare(settings, log)
    ensure_ui_passwords(settings)
    env = airflow_env(settings) | _secrets(settings)
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for component in COMPONENTS:
        name = component[0]
        out = (logs / f"airflow-{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [_airflow_bin(), *component],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        write_pid(_pid_file(settings, name), proc.pid)
        procs.append((name, proc))
        log(f"airflow: started {name} (pid {proc.pid})")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [name for name, proc in procs if proc.poll() is not None]
        if dead:
            stop_ui(settings, log=lambda _line: None)
            raise RuntimeError(f"airflow {', '.join(dead)} exited; see {logs}/airflow-*.log")
        try:
            with urllib.request.urlopen(url + "/api/v2/monitor/health", timeout=2):  # noqa: S310
                break
        except OSError:
            time.sleep(1)
    else:
        stop_ui(settings, log=lambda _line: None)
        raise TimeoutError(f"Airflow API did not answer on {url} within {timeout:.0f} s")
    log(
        f"airflow: UI at {url} (users {', '.join(f'{u} ({r})' for u, r in UI_USERS.items())};"
        f" passwords in {admin_password_file(settings)})"
    )


def admin_password_file(settings: Settings) -> Path:
    """File holding the UI users' passwords (the simple auth manager reads it)."""
    return settings.airflow_home / "simple_auth_manager_passwords.json.generated"


def ensure_ui_passwords(settings: Settings) -> Path:
    """Give every UI user a random password in `admin_password_file` (mode 0600), once.

    Left to itself, the simple auth manager generates the missing ones and prints them in the
    api-server's log; writing them first means no password ever reaches a log.
    """
    path = admin_password_file(settings)
    current: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = {u: secrets.token_urlsafe(16) for u in UI_USERS if u not in current}
    if missing or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(current | missing, fh)
        tmp.replace(path)
    path.chmod(0o600)
    return path


def stop_ui(settings: Settings, log: Callable[[str], None] = print, grace: float = 20) -> None:
    """Stop every component by PID: SIGTERM to all, then SIGKILL what outlives the grace."""
    pids = {}
    for component in COMPONENTS:
        pid = _running_pid(settings, component[0])
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            pids[_pid_file(settings, component[0])] = pid
    deadline = time.monotonic() + grace
    while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.3)
    for pid_file, pid in pids.items():
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
    log("airflow: stopped" if pids else "airflow: not running")


def _alive(pid: int) -> bool:
    """Whether an Airflow component with this pid runs (not a zombie, not a reused pid)."""
    return pid_alive(pid, expect="airflow")
