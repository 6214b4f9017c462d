"""The embedded local PostgreSQL cluster.

This is a **local development cluster**: `initdb` sets ``trust`` authentication, which lets any
local user connect as any role without a password. Only the loopback addresses are accepted by
the generated ``pg_hba.conf`` (``127.0.0.1/32`` and ``::1/128``), and the server listens only on
`Settings.pg_host` (``127.0.0.1`` by default). Never use this cluster for real data. Durability
settings (``fsync``, ``synchronous_commit``, ``full_page_writes``) keep their safe defaults.

`initdb` and `pg_ctl` refuse to run as root, so as root every command runs through
``runuser -u postgres --`` and the directories are owned by the ``postgres`` system user.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from regreport import ddl, roles
from regreport.services._common import (
    ServiceError,
    ServiceStatus,
    log_tail,
    pid_alive,
    read_pid,
    run_dir,
    write_pid,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from regreport.config import Settings

NAME = "postgres"
_SYSTEM_USER = "postgres"
#: random_page_cost 1.1: local disks are SSDs, where a random read costs about a sequential one;
#: with the default 4 the planner hashes whole history tables rather than probe their indexes.
_SERVER_OPTIONS = {
    "max_connections": "100",
    "shared_buffers": "256MB",
    "random_page_cost": "1.1",
    "effective_cache_size": "4GB",
}
_INSTALL_HINT = "Install the PostgreSQL server: `apt-get install -y postgresql` (`make install`)."
#: Where the cluster goes when the postgres user cannot reach REGREPORT_HOME (see data_dir):
#: root-owned and not world-writable, so nobody can plant a folder there first.
_FALLBACK_ROOT = Path("/var/lib/regreport")


def data_dir(settings: Settings) -> Path:
    """Folder holding the cluster (``data/``), its Unix socket and its server log.

    Normally ``$REGREPORT_HOME/postgres``. As root, the server runs as the ``postgres`` user,
    which must be able to traverse every parent folder; a checkout under a private folder (a
    ``mktemp -d`` folder is mode 700) does not allow that. The cluster then lives in
    ``/var/lib/regreport/postgres-<hash of REGREPORT_HOME>``, one per project state folder.
    """
    preferred = settings.home / "postgres"
    if not _as_root() or _reachable_by_postgres(settings.home):
        return preferred
    digest = hashlib.sha256(str(settings.home).encode()).hexdigest()[:12]
    return _FALLBACK_ROOT / f"postgres-{digest}"


@functools.lru_cache(maxsize=8)
def _reachable_by_postgres(home: Path) -> bool:
    home.mkdir(parents=True, exist_ok=True)
    check = subprocess.run(
        ["runuser", "-u", _SYSTEM_USER, "--", "test", "-x", str(home)],
        capture_output=True,
        check=False,
    )
    return check.returncode == 0


def _cluster_dir(settings: Settings) -> Path:
    return data_dir(settings) / "data"


def _pid_file(settings: Settings) -> Path:
    return run_dir(settings.home) / "postgres.pid"


def _log_file(settings: Settings) -> Path:
    # Written by the server process itself, so it sits next to the cluster.
    return data_dir(settings) / "postgres.log"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_bindir() -> Path:
    """Locate the PostgreSQL server binaries (the highest installed version).

    Returns:
        The directory containing ``initdb``, ``pg_ctl`` and ``postgres``.

    Raises:
        ServiceError: If no PostgreSQL server installation is found.
    """
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key)
    for bindir in reversed(candidates):
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if out.returncode == 0 and (bindir / "initdb").is_file():
            return bindir
    raise ServiceError(f"PostgreSQL server binaries (initdb, pg_ctl) not found. {_INSTALL_HINT}")


def _as_root() -> bool:
    return os.geteuid() == 0


def _cmd(args: list[str]) -> list[str]:
    """Prefix a command with ``runuser`` when we are root (initdb/pg_ctl refuse root)."""
    if _as_root():
        return ["runuser", "-u", _SYSTEM_USER, "--", *args]
    return args


def _run(args: list[str], what: str, log_file: Path | None = None) -> str:
    result = subprocess.run(
        _cmd(args), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).strip()
        if log_file is not None:
            detail += f"\n--- {log_file} (tail) ---\n{log_tail(log_file)}"
        raise ServiceError(f"{what} failed (exit {result.returncode}):\n{detail}")
    return result.stdout


def _prepare_dirs(settings: Settings) -> None:
    """Create the folders and, as root, hand them (and the log file) to the postgres user."""
    base = data_dir(settings)
    base.mkdir(parents=True, exist_ok=True)
    log_file = _log_file(settings)
    log_file.touch(exist_ok=True)
    if not _as_root():
        return
    try:
        shutil.chown(base, _SYSTEM_USER, _SYSTEM_USER)
        shutil.chown(log_file, _SYSTEM_USER, _SYSTEM_USER)
    except LookupError as exc:
        raise ServiceError(f"System user 'postgres' is missing. {_INSTALL_HINT}") from exc
    base.chmod(0o700)
    check = subprocess.run(
        ["runuser", "-u", _SYSTEM_USER, "--", "test", "-w", str(base)], check=False
    )
    if check.returncode != 0:
        raise ServiceError(
            f"The postgres user cannot write {base}: a parent folder is not searchable by "
            "other users. Set REGREPORT_HOME to a folder outside it (e.g. /var/tmp/regreport)."
        )


def _initdb(settings: Settings, bindir: Path, log: Callable[[str], None]) -> None:
    cluster = _cluster_dir(settings)
    if (cluster / "PG_VERSION").exists():
        return
    log(f"postgres: initdb {cluster}")
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(cluster),
            "-A",
            "trust",
            "-U",
            settings.pg_user,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        "initdb",
    )


def _server_options(settings: Settings) -> str:
    opts = [
        f"-c listen_addresses={shlex.quote(settings.pg_host)}",
        f"-p {settings.pg_port}",
        f"-k {shlex.quote(str(data_dir(settings)))}",
    ]
    opts += [f"-c {key}={value}" for key, value in _SERVER_OPTIONS.items()]
    return " ".join(opts)


def _postmaster_pid(settings: Settings) -> int | None:
    """The pid PostgreSQL itself records in ``postmaster.pid``, if that process is alive."""
    try:
        pid = int((_cluster_dir(settings) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid, "postgres") else None


def running_pid(settings: Settings) -> int | None:
    """Return the live postmaster pid, cleaning a stale pid file; None if not running."""
    pid = read_pid(_pid_file(settings), "postgres")
    if pid is None:
        pid = _postmaster_pid(settings)
        if pid is not None:  # Running, but our pid file was lost: record it again.
            write_pid(_pid_file(settings), pid)
    return pid


def _wait_healthy(settings: Settings, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(settings.dsn("postgres"), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"PostgreSQL does not answer on {settings.pg_host}:{settings.pg_port}: {exc}"
                    f"\n--- {_log_file(settings)} (tail) ---\n{log_tail(_log_file(settings))}"
                ) from exc
            time.sleep(0.2)


def start(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Initialise (once) and start the cluster; a no-op if it is already running.

    Args:
        settings: Deployment settings (home, host, port, user).
        log: Receives one-line progress messages.

    Raises:
        ServiceError: If the binaries are missing or the server does not come up.
    """
    endpoint = f"{settings.pg_host}:{settings.pg_port}"
    pid = running_pid(settings)
    if pid is not None:
        _wait_healthy(settings)
        log(f"postgres: already running (pid {pid}) on {endpoint}")
        return
    bindir = find_bindir()
    _prepare_dirs(settings)
    _initdb(settings, bindir, log)
    log_file = _log_file(settings)
    started = time.monotonic()
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(_cluster_dir(settings)),
            "-l",
            str(log_file),
            "-w",
            "-t",
            "60",
            "-o",
            _server_options(settings),
            "start",
        ],
        "pg_ctl start",
        log_file,
    )
    pid = _postmaster_pid(settings)
    if pid is None:
        raise ServiceError(f"PostgreSQL started but wrote no postmaster.pid; see {log_file}")
    write_pid(_pid_file(settings), pid)
    _wait_healthy(settings)
    log(f"postgres: started (pid {pid}) on {endpoint} in {time.monotonic() - started:.1f} s")


def stop(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Stop the cluster with ``pg_ctl stop -m fast``; a no-op if it is not running.

    Args:
        settings: Deployment settings.
        log: Receives one-line progress messages.
    """
    pid = running_pid(settings)
    if pid is None:
        log("postgres: not running")
        return
    _run(
        [str(find_bindir() / "pg_ctl"), "-D", str(_cluster_dir(settings)), "-m", "fast", "-w"]
        + ["stop"],
        "pg_ctl stop",
        _log_file(settings),
    )
    _pid_file(settings).unlink(missing_ok=True)
    log(f"postgres: stopped (pid {pid})")


def status(settings: Settings) -> ServiceStatus:
    """Report whether the cluster runs, its pid, endpoint and data folder."""
    pid = running_pid(settings)
    return ServiceStatus(
        name=NAME,
        running=pid is not None,
        pid=pid,
        endpoint=settings.dsn("postgres"),
        data_dir=data_dir(settings),
    )


def ensure_databases(settings: Settings, names: Sequence[str] | None = None) -> list[str]:
    """Create the project's databases if they are missing.

    Once the warehouse and the source both exist, the platform tables are created or upgraded
    as their owner (`regreport.ddl.setup`) and the least-privilege roles, their grants and a
    login user per stage (`Settings.db_passwords`) are ensured (`regreport.roles.ensure_roles`);
    both are idempotent.

    Args:
        settings: Deployment settings; by default creates `source_db`, `warehouse_db` and
            `airflow_db`.
        names: Databases to ensure instead of the defaults.

    Returns:
        The names of the databases that were created (empty if all existed).
    """
    wanted = list(names or (settings.source_db, settings.warehouse_db, settings.airflow_db))
    created: list[str] = []
    with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in dict.fromkeys(wanted):
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    if {settings.warehouse_db, settings.source_db} <= existing | set(created):
        # The platform tables first (as their owner), so the grants below cover them.
        ddl.setup(settings.dsn(settings.warehouse_db))
        roles.ensure_roles(
            settings.dsn("postgres"),
            settings.warehouse_db,
            settings.source_db,
            settings.db_passwords,
        )
    return created
