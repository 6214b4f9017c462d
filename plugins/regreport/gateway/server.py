"""The SFTP side of the gateway simulator: asyncssh server, host key, logins, chroots.

Each firm's users log in with a password and land chrooted in `<root>/firms/<firm>/`, which
holds `inbox/` (the firm uploads, the only writable place) and `outbox/` (the gateway writes
status advice there). A completed upload is handed to `Gateway.process_upload`:

- a file opened for writing under a final name is complete when it is closed;
- a file uploaded under a temporary name (`.x`, `x.part`, `x.tmp`, ... see
  `GatewayConfig.temp_patterns`) is ignored until it is renamed to a final name.

The SFTP reply (close or rename) is sent after processing, so feedback that is not delayed is
in the outbox when the client's call returns; clients should still poll, as with a real NCA.

The host key is generated once under `<root>/keys/` and reused, so clients can pin it
(`known_hosts_line`). Run in a background thread with `GatewayServer` (tests, demos) or as a
process with `python -m regreport.gateway` (`run_forever`), which records its pid and port in
`<root>/run/` for a supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from regreport.gateway.config import hash_password, verify_password

if TYPE_CHECKING:
    from regreport.gateway.checks import Gateway

log = logging.getLogger(__name__)

HOST_KEY_FILE = "ssh_host_ed25519_key"
PID_FILE = "gateway.pid"
PORT_FILE = "gateway.port"
INFO_FILE = "gateway.json"
#: The host-key pin line alone, for clients that read a known_hosts file (docker-compose).
KNOWN_HOSTS_FILE = "known_hosts"

#: Checked against when the user is unknown, so that a wrong user costs as much as a wrong
#: password and user names cannot be probed by timing.
_DUMMY_HASH = hash_password("not-a-user", salt=b"regreport-gateway")

_WRITE_PFLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC
_WRITE_ACCESS = asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA


def host_key_path(root: Path) -> Path:
    """Where the gateway's private host key lives."""
    return root / "keys" / HOST_KEY_FILE


def load_or_create_host_key(root: Path) -> asyncssh.SSHKey:
    """Read the host key, generating it on first use (mode 0600, created exclusively).

    A stable key is what lets clients pin it; regenerating it on every start would train
    clients to accept changing keys.
    """
    path = host_key_path(root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.export_private_key())
            (path.parent / f"{HOST_KEY_FILE}.pub").write_bytes(key.export_public_key())
    return asyncssh.read_private_key(str(path))


def public_host_key(root: Path) -> str:
    """The host key in OpenSSH public form ("ssh-ed25519 AAAA..."), without a comment."""
    exported = load_or_create_host_key(root).export_public_key().decode()
    return " ".join(exported.split()[:2])


def known_hosts_line(root: Path, host: str, port: int) -> str:
    """A known_hosts line pinning the gateway's key for `host:port` (paramiko, OpenSSH)."""
    where = host if port == 22 else f"[{host}]:{port}"
    return f"{where} {public_host_key(root)}"


class _GatewaySSHServer(asyncssh.SSHServer):
    """Password logins checked against the configured users."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def begin_auth(self, username: str) -> bool:
        return True  # Always ask for credentials, whoever the user claims to be.

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        user = self._gateway.config.user(username)
        stored = user.password_hash if user is not None else _DUMMY_HASH
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, verify_password, password, stored)
        if not (ok and user is not None):
            log.warning("gateway: failed password login")  # no user name: may be personal
            return False
        return True


class _FirmSFTPServer(asyncssh.SFTPServer):
    """SFTP confined to one firm's folder, writable only in `inbox/`."""

    def __init__(self, chan: asyncssh.SSHServerChannel, gateway: Gateway) -> None:
        user = gateway.config.user(chan.get_extra_info("username"))
        if user is None:  # pragma: no cover - auth admitted only configured users
            raise asyncssh.SFTPPermissionDenied("unknown user")
        self._gateway = gateway
        self._firm = user.firm
        firm_dir = gateway.config.firm_dir(user.firm)
        super().__init__(chan, chroot=os.fsencode(firm_dir))
        self._inbox = os.fsencode(os.path.realpath(firm_dir / "inbox"))
        self._writes: dict[int, Path] = {}

    def _inbox_file(self, path: bytes) -> bytes:
        local = self.map_path(path)
        if os.path.dirname(local) != self._inbox or not os.path.basename(local):
            raise asyncssh.SFTPPermissionDenied("only files directly in /inbox can be written")
        return local

    def _track(self, file_obj: object, local: bytes) -> object:
        path = Path(os.fsdecode(local))
        self._writes[id(file_obj)] = path
        self._gateway.begin_write(path)
        return file_obj

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if not pflags & _WRITE_PFLAGS:
            return super().open(path, pflags, attrs)
        local = self._inbox_file(path)
        return self._track(super().open(path, pflags, attrs), local)

    def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs
    ) -> object:
        disposition = flags & asyncssh.FXF_ACCESS_DISPOSITION
        if not desired_access & _WRITE_ACCESS and disposition == asyncssh.FXF_OPEN_EXISTING:
            return super().open56(path, desired_access, flags, attrs)
        local = self._inbox_file(path)
        return self._track(super().open56(path, desired_access, flags, attrs), local)

    async def close(self, file_obj: object) -> None:
        super().close(file_obj)
        path = self._writes.pop(id(file_obj), None)
        if path is not None:
            self._gateway.end_write(path)
            await self._process(path.name)

    async def _process(self, name: str) -> None:
        if self._gateway.config.is_temp_name(name):
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._gateway.process_upload, self._firm, name)
        except Exception:
            # The upload itself succeeded; the next scan retries the processing.
            log.exception("gateway: processing %s/%s failed", self._firm, name)

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._inbox_file(oldpath)
        new_local = self._inbox_file(newpath)
        super().rename(oldpath, newpath)
        await self._process(os.fsdecode(os.path.basename(new_local)))

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._inbox_file(oldpath)
        new_local = self._inbox_file(newpath)
        super().posix_rename(oldpath, newpath)
        await self._process(os.fsdecode(os.path.basename(new_local)))

    def remove(self, path: bytes) -> None:
        self._inbox_file(path)
        super().remove(path)

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._inbox_file(path)
        super().setstat(path, attrs)

    def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._inbox_file(path)
        super().lsetstat(path, attrs)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("directories cannot be created")

    def rmdir(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("directories cannot be removed")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links cannot be created")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links cannot be created")


async def _ticker(gateway: Gateway, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(seconds)
        try:
            await loop.run_in_executor(None, gateway.tick)
        except Exception:
            log.exception("gateway: background tick failed")


async def start_server(
    gateway: Gateway, host: str = "127.0.0.1", port: int = 0
) -> tuple[asyncssh.SSHAcceptor, int]:
    """Start listening in the running event loop.

    Args:
        gateway: The engine that processes uploads.
        host: Address to bind (loopback by default: the simulator is not a public service).
        port: Port, 0 for a free one.

    Returns:
        The acceptor (close it to stop) and the bound port.
    """
    key = load_or_create_host_key(gateway.config.root)
    acceptor = await asyncssh.create_server(
        lambda: _GatewaySSHServer(gateway),
        host,
        port,
        server_host_keys=[key],
        sftp_factory=lambda chan: _FirmSFTPServer(chan, gateway),
        allow_scp=False,
        agent_forwarding=False,
        x11_forwarding=False,
    )
    bound = acceptor.sockets[0].getsockname()[1]
    log.info("gateway: SFTP listening on %s:%s", host, bound)
    return acceptor, bound


class GatewayServer:
    """The gateway in a background thread with its own event loop (tests, demos).

    Use as a context manager, or call `start` and `stop`.

    Args:
        gateway: The engine.
        host: Address to bind.
        port: 0 for a free port; read the bound one from `port` after `start`.
    """

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout: float = 30.0) -> GatewayServer:
        """Start listening; returns when the port is bound (or raises what went wrong)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="regreport-gateway", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("gateway did not start")
        if failure:
            raise failure[0]
        return self

    async def _serve(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        acceptor, self.port = await start_server(self.gateway, self.host, self.port)
        tick = self.gateway.config.tick_seconds
        ticker = asyncio.create_task(_ticker(self.gateway, tick)) if tick else None
        ready.set()
        try:
            await self._stop.wait()
        finally:
            if ticker is not None:
                ticker.cancel()
            acceptor.close()
            await acceptor.wait_closed()

    def stop(self) -> None:
        """Stop listening and join the thread."""
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def known_hosts_line(self) -> str:
        """Pin line for this server's host and port."""
        return known_hosts_line(self.gateway.config.root, self.host, self.port)

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_run_files(run_dir: Path, info: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (
        (INFO_FILE, json.dumps(info, indent=2) + "\n"),
        (KNOWN_HOSTS_FILE, f"{info['known_hosts']}\n"),
        (PORT_FILE, f"{info['port']}\n"),
        (PID_FILE, f"{info['pid']}\n"),  # last: its presence means the others are there
    ):
        tmp = run_dir / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(run_dir / name)


def run_forever(gateway: Gateway, host: str, port: int, run_dir: Path) -> None:
    """Serve until SIGTERM or SIGINT; record pid, port and host key in `run_dir`.

    The files are removed on a clean stop, so a leftover pid file means a crash, which the
    supervisor's liveness check (`services._common.read_pid`) then cleans up.
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        acceptor, bound = await start_server(gateway, host, port)
        tick = gateway.config.tick_seconds
        ticker = asyncio.create_task(_ticker(gateway, tick)) if tick else None
        try:  # files uploaded while the gateway was down
            await loop.run_in_executor(None, gateway.scan_inboxes)
        except Exception:
            log.exception("gateway: initial inbox scan failed; the next tick retries")
        _write_run_files(
            run_dir,
            {
                "pid": os.getpid(),
                "host": host,
                "port": bound,
                "root": str(gateway.config.root),
                "known_hosts": known_hosts_line(gateway.config.root, host, bound),
            },
        )
        try:
            await stop.wait()
        finally:
            if ticker is not None:
                ticker.cancel()
            acceptor.close()
            await acceptor.wait_closed()
            for name in (PID_FILE, PORT_FILE, INFO_FILE, KNOWN_HOSTS_FILE):
                (run_dir / name).unlink(missing_ok=True)

    asyncio.run(main())
