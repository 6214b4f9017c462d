"""The local regulator gateway: the SFTP simulator `python -m regreport.gateway` as a service.

Submissions go to an NCA's SFTP gateway, which no laptop or CI run can reach; the simulator in
`regreport.gateway` stands in for it, and this controller runs it like PostgreSQL and S3: a
process in its own session under `Settings.home`, a pid file in ``run/``, a log in ``logs/``.

Its state lives in `Settings.gateway_root`:

- ``gateway.toml``: written from the settings on every start (one login for the firm, scrypt
  hash only; reference data file; ESMA schemas folder). Settings this controller does not manage
  (scripted ``[[outcomes]]``, other ``[[users]]``, pending limits, ...) are kept, so a demo or
  test can script outcomes there and restart the service.
- ``instruments.txt``: the regulator's instrument reference data (a FIRDS stand-in); records on
  ISINs not listed are pending (CON-411). `publish_instruments` rewrites it.
- ``keys/``: the host key, created at first start and kept, so clients can pin it
  (`known_hosts_line`).
- ``firms/<firm>/inbox|outbox``: the firm's chroot (`firm_dir`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regreport.services._common import (
    ServiceError,
    ServiceStatus,
    log_tail,
    logs_dir,
    pid_alive,
    read_pid,
    run_dir,
    write_pid,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from regreport.config import Settings

NAME = "gateway"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CONFIG_FILE = "gateway.toml"
INSTRUMENTS_FILE = "instruments.txt"
#: What `read_pid` expects in the process's command line (guards against reused pids).
_EXPECT = "regreport.gateway"
#: Keys of gateway.toml that come from the settings; every other key is the operator's.
_MANAGED_KEYS = ("schemas_dir", "schema_version", "instruments_file", "file_name_pattern")
_ISIN_RE = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
#: Popen objects of servers started by this process, kept so they are reaped, not warned about.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _pid_file(settings: Settings) -> Path:
    return run_dir(settings.home) / "gateway.pid"


def _log_file(settings: Settings) -> Path:
    return logs_dir(settings.home) / "gateway.log"


def process_run_dir(settings: Settings) -> Path:
    """Where the gateway process writes ``gateway.pid``, ``gateway.port`` and ``gateway.json``."""
    return settings.home / "run" / "gateway"


def endpoint(settings: Settings) -> str:
    """The SFTP address clients connect to, for status output."""
    return f"sftp://{settings.gateway_host}:{settings.gateway_port}"


def firm_dir(settings: Settings) -> Path:
    """The firm's folder at the gateway (its users' chroot, holding ``inbox/`` and ``outbox/``)."""
    return settings.gateway_root / "firms" / settings.gateway_firm


# -- configuration ------------------------------------------------------------------------------


def _toml_key(key: str) -> str:
    return key if _BARE_KEY_RE.fullmatch(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    """One TOML value; JSON string escapes are valid TOML basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ServiceError(f"{CONFIG_FILE}: cannot write a value of type {type(value).__name__}")


def _render_toml(data: dict[str, Any]) -> str:
    """Serialise the flat shape gateway.toml uses: scalars, then arrays of flat tables."""
    tables = {k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    lines = [
        "# Written by regreport.services.gateway on every start: the settings' user, reference",
        "# data file and schemas folder are rewritten; other settings (outcomes, ...) are kept.",
    ]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if k not in tables]
    for key, rows in tables.items():
        for row in rows:
            lines += ["", f"[[{_toml_key(key)}]]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in row.items()]
    return "\n".join(lines) + "\n"


def _read_existing(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ServiceError(f"cannot read {path}: {exc}; fix or remove it") from exc


def _user_entry(settings: Settings, existing: list[dict[str, Any]]) -> dict[str, Any]:
    """Our login, reusing the stored hash while the password is unchanged (stable file)."""
    from regreport.gateway.config import hash_password, verify_password

    stored = next(
        (
            str(u.get("password_hash", ""))
            for u in existing
            if u.get("name") == settings.gateway_user
        ),
        "",
    )
    if not verify_password(settings.gateway_password, stored):
        stored = hash_password(settings.gateway_password)
    return {"name": settings.gateway_user, "password_hash": stored, "firm": settings.gateway_firm}


def _file_name_pattern(settings: Settings) -> str:
    from regreport.gateway.config import FILE_NAME_PATTERNS

    if settings.file_naming in FILE_NAME_PATTERNS:
        return settings.file_naming
    # A custom naming template: accept any safe XML file name rather than INCF everything.
    return r"[A-Za-z0-9][A-Za-z0-9_.-]*\.xml"


def _atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename; the file is created with mode 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_config(settings: Settings) -> Path:
    """Write ``<gateway_root>/gateway.toml`` from the settings (mode 0600); return its path.

    The file is only rewritten when its content changes: the password hash is reused while
    it still matches the configured password. The result is checked with
    `GatewayConfig.from_mapping` first, so a bad setting fails here, not in the child process.

    Raises:
        ServiceError: The existing file cannot be parsed, or the settings make a bad config.
    """
    from regreport.gateway.config import GatewayConfig, GatewayConfigError

    root = settings.gateway_root
    root.mkdir(parents=True, exist_ok=True)
    path = root / CONFIG_FILE
    existing = _read_existing(path)
    users = [u for u in existing.pop("users", []) if isinstance(u, dict)]
    ours = _user_entry(settings, users)
    data: dict[str, Any] = {k: v for k, v in existing.items() if k not in _MANAGED_KEYS}
    data = {
        "instruments_file": INSTRUMENTS_FILE,
        "schemas_dir": str(settings.schemas_dir),
        "schema_version": settings.schema_version,
        "file_name_pattern": _file_name_pattern(settings),
        **data,
    }
    if settings.nca_country:
        data["nca_country"] = settings.nca_country
    outcomes = data.pop("outcomes", None)
    data["users"] = [ours, *(u for u in users if u.get("name") != settings.gateway_user)]
    if outcomes:
        data["outcomes"] = outcomes
    try:
        GatewayConfig.from_mapping(root, json.loads(json.dumps(data)), base=root)
    except (GatewayConfigError, TypeError, ValueError) as exc:
        raise ServiceError(f"gateway configuration is invalid: {exc}") from exc
    text = _render_toml(data)
    if not path.is_file() or path.read_text() != text:
        _atomic_write(path, text)
    path.chmod(0o600)
    return path


def publish_instruments(settings: Settings, isins: Iterable[str]) -> int:
    """Publish the regulator's instrument reference data (the FIRDS stand-in).

    Records on ISINs missing from this list stay pending at the gateway (CON-411) and are
    rejected (CON-412) if they never appear. The gateway re-reads the file at every check, so
    publishing takes effect without a restart. The file is replaced atomically, so the gateway
    never reads half a list.

    Args:
        settings: Deployment settings (gateway root).
        isins: The instruments the regulator knows; duplicates and surrounding blanks are fine.

    Returns:
        How many distinct ISINs were published.

    Raises:
        ValueError: A value is not shaped like an ISIN (the gateway would silently drop it).
    """
    cleaned = {str(isin).strip().upper() for isin in isins}
    cleaned.discard("")
    bad = sorted(i for i in cleaned if not _ISIN_RE.fullmatch(i))
    if bad:
        raise ValueError(f"not ISINs: {bad[:5]}{' ...' if len(bad) > 5 else ''}")
    root = settings.gateway_root
    root.mkdir(parents=True, exist_ok=True)
    header = (
        "# Instrument reference data of the local regulator gateway (FIRDS stand-in),\n"
        "# written by regreport.services.gateway.publish_instruments: one ISIN a line.\n"
    )
    _atomic_write(root / INSTRUMENTS_FILE, header + "".join(f"{i}\n" for i in sorted(cleaned)))
    (root / INSTRUMENTS_FILE).chmod(0o644)
    return len(cleaned)


def publish_source_instruments(settings: Settings) -> int:
    """Publish every well-formed ISIN of the QSuite instruments as the regulator's reference data.

    What the demo and the end-to-end tests do before a run: the simulated regulator then knows
    the firm's instruments, as a real NCA knows them from FIRDS. Returns how many were published.
    """
    import psycopg

    with psycopg.connect(settings.source_dsn) as conn:
        isins = [
            r[0]
            for r in conn.execute(
                "select distinct isin from qsuite.instruments"
                " where isin ~ '^[A-Z]{2}[A-Z0-9]{9}[0-9]$'"
            )
        ]
    return publish_instruments(settings, isins)


def known_hosts_line(settings: Settings) -> str:
    """The ``[host]:port ssh-ed25519 AAAA...`` line that pins the gateway's host key.

    Raises:
        ServiceError: The host key does not exist yet (the gateway has never been started).
    """
    from regreport.gateway import server

    root = settings.gateway_root
    if not server.host_key_path(root).is_file():
        raise ServiceError(
            f"the gateway has no host key yet under {root / 'keys'}; start it once with "
            "`regreport services start --only gateway`"
        )
    return server.known_hosts_line(root, settings.gateway_host, settings.gateway_port)


# -- process control ----------------------------------------------------------------------------


def command(settings: Settings) -> list[str]:
    """The command line of the gateway process for these settings."""
    return [
        sys.executable,
        "-m",
        "regreport.gateway",
        "--root",
        str(settings.gateway_root),
        "--port",
        str(settings.gateway_port),
        "--host",
        settings.gateway_host,
        "--run-dir",
        str(process_run_dir(settings)),
    ]


def _child_env(settings: Settings) -> dict[str, str]:
    """The parent's environment, with the repository's plugins importable without install."""
    env = dict(os.environ)
    plugins = str(settings.repo_root / "plugins")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (plugins, env.get("PYTHONPATH", "")) if p)
    return env


def _probe(settings: Settings) -> str | None:
    """None when the process has announced its port and accepts TCP connections, else why not."""
    port_file = process_run_dir(settings) / "gateway.port"
    try:
        announced = int(port_file.read_text().strip())
    except (OSError, ValueError):
        return "gateway.port not written yet"
    if announced != settings.gateway_port:
        return f"gateway announced port {announced}, expected {settings.gateway_port}"
    try:
        with socket.create_connection((settings.gateway_host, settings.gateway_port), timeout=2):
            return None
    except OSError as exc:
        return f"connect failed: {exc}"


def _failure(settings: Settings, reason: str) -> str:
    log_file = _log_file(settings)
    return f"{reason} on {endpoint(settings)}.\n--- {log_file} (tail) ---\n{log_tail(log_file)}"


def _wait_ready(settings: Settings, pid: int, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while (error := _probe(settings)) is not None:
        if not pid_alive(pid):
            _reap(pid)
            raise ServiceError(_failure(settings, f"the gateway exited during start ({error})"))
        if time.monotonic() > deadline:
            raise ServiceError(
                _failure(settings, f"the gateway is not answering after {timeout:.0f} s ({error})")
            )
        time.sleep(0.1)


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.poll()
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def running_pid(settings: Settings) -> int | None:
    """Return the live gateway pid, cleaning a stale pid file; None if not running."""
    return read_pid(_pid_file(settings), _EXPECT)


def _clear_process_files(settings: Settings) -> None:
    """Remove run files a killed gateway left behind (a clean stop removes them itself)."""
    for name in ("gateway.pid", "gateway.port", "gateway.json"):
        (process_run_dir(settings) / name).unlink(missing_ok=True)


def start(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Start the gateway simulator and wait until it accepts connections; no-op if running.

    Args:
        settings: Deployment settings (gateway host, port, login, root).
        log: Receives one-line progress messages.

    Raises:
        ServiceError: The configuration is invalid, or the process exits or does not answer
            within 30 s (e.g. port in use); the message includes the tail of its log.
    """
    pid = running_pid(settings)
    if pid is not None:
        _wait_ready(settings, pid)
        log(f"gateway: already running (pid {pid}) on {endpoint(settings)}")
        return
    write_config(settings)
    instruments = settings.gateway_root / INSTRUMENTS_FILE
    if not instruments.exists():
        instruments.touch(mode=0o644)
    process_run_dir(settings).mkdir(parents=True, exist_ok=True)
    _clear_process_files(settings)  # a stale gateway.port must not pass for readiness
    cmd = command(settings)
    log_file = _log_file(settings)
    started = time.monotonic()
    with log_file.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments.
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.gateway_root,
            env=_child_env(settings),
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    write_pid(_pid_file(settings), proc.pid)
    try:
        _wait_ready(settings, proc.pid)
    except ServiceError:
        _signal_group(proc.pid, signal.SIGKILL)
        _wait_exit(proc.pid, STOP_TIMEOUT)
        _pid_file(settings).unlink(missing_ok=True)
        _clear_process_files(settings)
        raise
    elapsed = time.monotonic() - started
    log(f"gateway: started (pid {proc.pid}) on {endpoint(settings)} in {elapsed:.1f} s")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        # Not a group leader (started by other means): signal the process itself.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    except PermissionError as exc:
        raise ServiceError(f"Not allowed to stop the gateway (pid {pid}): {exc}") from exc


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not pid_alive(pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def stop(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Stop the gateway: SIGTERM to its process group, SIGKILL after 10 s; no-op if stopped.

    SIGTERM lets it close the listener and remove its run files; uploads are processed within
    the SFTP request, so nothing acknowledged is lost either way.

    Args:
        settings: Deployment settings.
        log: Receives one-line progress messages.

    Raises:
        ServiceError: The process survives SIGKILL or may not be signalled.
    """
    pid = running_pid(settings)
    if pid is None:
        log("gateway: not running")
        return
    _signal_group(pid, signal.SIGTERM)
    how = "stopped"
    if not _wait_exit(pid, STOP_TIMEOUT):
        _signal_group(pid, signal.SIGKILL)
        how = "killed (no exit 10 s after SIGTERM)"
        if not _wait_exit(pid, STOP_TIMEOUT):
            raise ServiceError(f"the gateway (pid {pid}) did not exit after SIGKILL")
    _pid_file(settings).unlink(missing_ok=True)
    _clear_process_files(settings)
    log(f"gateway: {how} (pid {pid})")


def status(settings: Settings) -> ServiceStatus:
    """Report whether the gateway runs, its pid, SFTP endpoint and root folder."""
    pid = running_pid(settings)
    return ServiceStatus(
        name=NAME,
        running=pid is not None,
        pid=pid,
        endpoint=endpoint(settings),
        data_dir=settings.gateway_root,
    )
