"""Local services for development, demos and tests: PostgreSQL, S3 (SeaweedFS), regulator gateway.

The gateway is the SFTP regulator simulator (`regreport.gateway`), standing in for the NCA's
reporting gateway that submissions go to. All three run as ordinary processes under
`Settings.home` (data, ``run/`` pid files, ``logs/``), so a fresh clone needs neither Docker
nor root-owned system services. Every call is idempotent: starting a running service only
checks that it is healthy, stopping a stopped one does nothing.

Example:
    >>> from regreport.config import Settings
    >>> from regreport import services
    >>> settings = Settings.from_env()
    >>> services.start(settings)            # doctest: +SKIP
    >>> services.ensure_databases(settings)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
from typing import TYPE_CHECKING

from regreport.services import gateway, postgres, seaweedfs
from regreport.services._common import ServiceError, ServiceStatus, run_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from regreport.config import Settings

__all__ = [
    "SERVICES",
    "ServiceError",
    "ServiceStatus",
    "ensure_databases",
    "start",
    "status",
    "stop",
]

#: Service names accepted by `start`/`stop`, in start order.
SERVICES = ("postgres", "s3", "gateway")
_MODULES = {"postgres": postgres, "s3": seaweedfs, "gateway": gateway}


def _selected(which: Sequence[str]) -> list[str]:
    if isinstance(which, str):
        which = (which,)
    unknown = sorted(set(which) - set(SERVICES))
    if unknown:
        raise ValueError(f"Unknown service(s) {unknown}; choose from {list(SERVICES)}")
    return [name for name in SERVICES if name in which]


@contextlib.contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    """Serialise start/stop between processes sharing one home (e.g. two pytest runs)."""
    with (run_dir(settings.home) / "services.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def start(
    settings: Settings,
    which: Sequence[str] = SERVICES,
    log: Callable[[str], None] = print,
) -> None:
    """Start the selected services; those already running are only health-checked.

    Args:
        settings: Deployment settings.
        which: Any of ``"postgres"``, ``"s3"`` and ``"gateway"``.
        log: Receives one-line progress messages (default: print).

    Raises:
        ServiceError: If a service cannot be started; the message says why (missing binary,
            port in use, log tail).
        ValueError: For an unknown service name.
    """
    names = _selected(which)
    with _lock(settings):
        for name in names:
            _MODULES[name].start(settings, log=log)


def stop(
    settings: Settings,
    which: Sequence[str] = SERVICES,
    log: Callable[[str], None] = print,
) -> None:
    """Stop the selected services, in reverse start order.

    PostgreSQL: ``pg_ctl stop -m fast``; SeaweedFS: SIGKILL; gateway: SIGTERM, then SIGKILL.

    Args:
        settings: Deployment settings.
        which: Any of ``"postgres"``, ``"s3"`` and ``"gateway"``.
        log: Receives one-line progress messages (default: print).

    Raises:
        ValueError: For an unknown service name.
    """
    names = _selected(which)
    with _lock(settings):
        for name in reversed(names):
            _MODULES[name].stop(settings, log=log)


def status(settings: Settings) -> dict[str, ServiceStatus]:
    """Return the status of every service, keyed by name (``postgres``, ``s3``, ``gateway``)."""
    return {name: _MODULES[name].status(settings) for name in SERVICES}


def ensure_databases(settings: Settings) -> None:
    """Create `source_db`, `warehouse_db` and `airflow_db` in the local cluster if missing.

    Raises:
        psycopg.OperationalError: If PostgreSQL is not reachable (start it first).
    """
    postgres.ensure_databases(settings)
