"""Helpers shared by the service controllers: status records, pid files, log tails."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceStatus:
    """What `regreport services status` reports for one local service.

    Attributes:
        name: Service name (``postgres`` or ``s3``).
        running: Whether the process recorded in the pid file is alive.
        pid: The live process id, or None when not running.
        endpoint: Where clients connect (libpq URI or S3 endpoint URL).
        data_dir: Directory holding the service's data.
    """

    name: str
    running: bool
    pid: int | None
    endpoint: str
    data_dir: Path


class ServiceError(RuntimeError):
    """A local service could not be started, stopped or found."""


def run_dir(home: Path) -> Path:
    """Return (and create) the directory holding pid files."""
    path = home / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir(home: Path) -> Path:
    """Return (and create) the directory holding service logs."""
    path = home / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_alive(pid: int, expect: str | None = None) -> bool:
    """Tell whether a process exists, is not a zombie and (optionally) looks like `expect`.

    Args:
        pid: Process id to check.
        expect: A substring the process's command line must contain, guarding against a pid
            that the kernel has reused for an unrelated process.

    Returns:
        True if the process is alive (and matches `expect` when given).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # Exists, owned by someone else.
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # No procfs (not Linux): trust kill(0).
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X"):
        return False
    return expect is None or expect in cmdline


def read_pid(pid_file: Path, expect: str | None = None) -> int | None:
    """Read a pid file; remove it and return None if the process is gone (a stale file).

    Args:
        pid_file: Path of the pid file.
        expect: Passed to `pid_alive` to recognise the right process.

    Returns:
        The live pid, or None.
    """
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid_file.unlink(missing_ok=True)
        return None
    if pid_alive(pid, expect):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def write_pid(pid_file: Path, pid: int) -> None:
    """Write `pid` to `pid_file` atomically."""
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last `lines` lines of a log file, or a note if it cannot be read."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16_384))
            text = fh.read().decode(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])
