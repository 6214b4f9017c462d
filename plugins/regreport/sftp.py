"""Exactly-once submission of report files to a regulator's SFTP gateway, and feedback pickup.

A report file must reach the regulator exactly once: a duplicate is a second submission (CON-023
duplicate TxId rejections), a half-written file is a corrupt one (CRPT). SFTP gives no
transactions, so this module builds exactly-once from three idempotent steps:

1. **Check first.** If the final name already exists with the same size and (when the server
   lets us read it back) the same SHA-256, the file was delivered by an earlier attempt:
   return ``already_present=True`` and upload nothing. Different content under that name raises
   `RemoteConflictError`; a submitted file is never overwritten.
2. **Upload to a temporary name** (``.<name>.part``), which gateways ignore (dot files), and
   check its size.
3. **Rename** it to the final name (``posix-rename@openssh.com``, atomic; servers that refuse
   the extension get a plain SFTP rename). The gateway sees either no file or the whole file.

Because every step can be repeated safely, a whole attempt is retried on connection errors
(exponential backoff, deterministic delays, injectable sleep). If the connection drops after the
rename but before its reply, the next attempt finds the final file and reports it as present.

Trust: the server's host key is pinned (an OpenSSH ``known_hosts`` line or a bare
``ssh-ed25519 AAAA...`` key). Nothing else is trusted: no system known_hosts, no agent, no
``~/.ssh`` keys, and an unknown or different key fails with `HostKeyMismatchError`. Host-key and
authentication failures are never retried: repeating them cannot help and may lock the account.

This module does not import Airflow; a thin hook can build an `SftpTarget` with
`SftpTarget.from_mapping` from a connection's fields and extras. Log lines and errors name the
host, port and file names only, never credentials.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import posixpath
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import paramiko

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Read/write block size: large enough for SFTP pipelining, small enough to keep memory flat.
CHUNK_SIZE = 256 * 1024
#: Default cap on a downloaded feedback file; an auth.031 for a full file is far smaller.
DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
_KEY_TYPE_PREFIXES = ("ssh-", "ecdsa-sha2-", "sk-")


class SftpError(RuntimeError):
    """Base class of every error raised by this module."""


class HostKeyMismatchError(SftpError):
    """The server presented a host key other than the pinned one; the session was refused."""

    def __init__(self, host: str, port: int, expected: list[str], actual: str) -> None:
        self.host = host
        self.port = port
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"host key of {host}:{port} does not match the pinned key: server presented "
            f"{actual}, pinned {', '.join(expected)}; refusing to connect (if the regulator "
            "rotated its key, update the pinned host key after verifying it out of band)"
        )


class SftpAuthenticationError(SftpError):
    """The server refused our credentials. Not retried: retrying could lock the account."""


class GatewayConnectionError(SftpError):
    """One attempt failed on the network or transport level; such failures are retried."""


class GatewayUnavailable(SftpError):
    """Every attempt failed with a connection error; the gateway is down or unreachable."""


class RemoteConflictError(SftpError):
    """A different file already exists under the final remote name; it is never overwritten."""


class SftpIntegrityError(SftpError):
    """A transferred file's size or hash does not match what was sent or announced."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts after connection errors.

    Delays are deterministic (``base_delay * factor**n``, capped at ``max_delay``) rather than
    jittered: one Airflow task submits one file, so there is no thundering herd to spread, and
    deterministic delays make the behaviour testable. ``sleep`` is injectable for tests.
    """

    attempts: int = 5
    base_delay: float = 2.0
    factor: float = 2.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.factor < 1 or self.max_delay < 0:
            raise ValueError("delays must be non-negative and factor at least 1")

    def delays(self) -> list[float]:
        """The waits between attempts, one fewer than ``attempts``."""
        return [
            min(self.base_delay * self.factor**n, self.max_delay) for n in range(self.attempts - 1)
        ]


@dataclass(frozen=True)
class SftpTarget:
    """Where and how to reach one firm's account on the regulator's SFTP gateway.

    Attributes:
        host: Gateway host name or IP address.
        port: SSH port.
        username: Account name at the gateway.
        host_key: The pinned server key: an OpenSSH ``known_hosts`` line (``host keytype
            base64``) or a bare ``keytype base64 [comment]``. Several lines pin several keys
            (e.g. during a key rotation). The hosts field of a known_hosts line is not matched:
            the pin belongs to this target, whatever name the line was written for.
        password: Password, if the account uses password authentication.
        private_key: An OpenSSH/PEM private key (the text), for key authentication.
        private_key_passphrase: Passphrase of ``private_key``, if it is encrypted.
        inbox_dir: Remote directory that receives submissions.
        outbox_dir: Remote directory where the gateway leaves feedback files.
        timeout: Seconds allowed for the TCP connect, the SSH banner, and authentication.
    """

    host: str
    username: str
    host_key: str
    port: int = 22
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    private_key_passphrase: str | None = field(default=None, repr=False)
    inbox_dir: str = "inbox"
    outbox_dir: str = "outbox"
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("SFTP target needs a host")
        if not self.username:
            raise ValueError("SFTP target needs a username")
        if self.password is None and self.private_key is None:
            raise ValueError("SFTP target needs a password or a private key")
        parse_host_keys(self.host_key)  # fail at configuration time, not at submission time

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SftpTarget:
        """Build a target from a plain mapping, e.g. an Airflow connection's fields.

        Accepts this module's field names and Airflow's (``login`` for ``username``,
        ``schema`` is ignored, ``extra`` as a dict or JSON string whose keys are merged under
        the top-level ones, ``key`` for ``private_key``, ``inbox``/``outbox`` for the dirs,
        ``host_key_file`` for a known_hosts file to read the pin from).
        ``no_host_key_check`` set to a true value is refused: pinning is not optional here.

        Args:
            values: The connection fields.

        Returns:
            The target.

        Raises:
            ValueError: A required field is missing or host-key checking is switched off.
        """
        extra = values.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        merged: dict[str, Any] = {**extra, **{k: v for k, v in values.items() if v is not None}}
        if str(merged.get("no_host_key_check", "false")).lower() in ("1", "true", "yes"):
            raise ValueError("no_host_key_check is not allowed: pin the gateway's host key")

        def pick(*names: str) -> Any:
            for name in names:
                if merged.get(name) not in (None, ""):
                    return merged[name]
            return None

        host_key = pick("host_key", "known_host")
        key_file = pick("host_key_file", "known_hosts_file")
        if host_key is None and key_file is not None:
            # A mounted known_hosts file (e.g. published by the gateway at start), read now.
            host_key = Path(str(key_file)).read_text()
        if host_key is None:
            raise ValueError("SFTP target needs a pinned host_key")
        kwargs: dict[str, Any] = {
            "host": pick("host"),
            "username": pick("username", "login"),
            "host_key": host_key,
            "password": pick("password"),
            "private_key": pick("private_key", "key"),
            "private_key_passphrase": pick("private_key_passphrase", "passphrase"),
        }
        for name, aliases, convert in (
            ("port", ("port",), int),
            ("inbox_dir", ("inbox_dir", "inbox"), str),
            ("outbox_dir", ("outbox_dir", "outbox"), str),
            ("timeout", ("timeout", "conn_timeout"), float),
        ):
            value = pick(*aliases)
            if value is not None:
                kwargs[name] = convert(value)
        return cls(**kwargs)

    def remote_path(self, directory: str, name: str) -> str:
        """The remote path of ``name`` in ``directory`` (relative dirs start at the login dir)."""
        return posixpath.join(directory, _safe_name(name))


@dataclass(frozen=True)
class UploadResult:
    """What `upload_once` did.

    Attributes:
        remote_path: Final path of the file on the gateway.
        size: Size in bytes.
        sha256: SHA-256 (hex) of the content.
        already_present: True if the file was already there (an earlier attempt delivered it)
            and nothing was uploaded.
        verified_by: ``"sha256"`` if the remote content was read back and hashed, ``"size"`` if
            the server did not let us read it and only the size was compared.
        attempts: Connection attempts used.
    """

    remote_path: str
    size: int
    sha256: str
    already_present: bool
    verified_by: str
    attempts: int


@dataclass(frozen=True)
class RemoteFile:
    """A regular file in a remote directory."""

    name: str
    size: int
    mtime: int | None


# --------------------------------------------------------------------------- host keys


def parse_host_keys(text: str) -> list[paramiko.PKey]:
    """Parse pinned host keys from known_hosts lines or bare ``keytype base64`` strings.

    Args:
        text: One or more lines; blank lines and ``#`` comments are skipped.

    Returns:
        The public keys, at least one.

    Raises:
        ValueError: No key found, a ``@cert-authority``/``@revoked`` marker (not supported for
            pinning), or a key that does not decode.
    """
    keys: list[paramiko.PKey] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            raise ValueError("known_hosts markers (@cert-authority, @revoked) are not supported")
        tokens = line.split()
        index = next(
            (i for i, tok in enumerate(tokens) if tok.startswith(_KEY_TYPE_PREFIXES)), None
        )
        if index is None or index + 1 >= len(tokens):
            raise ValueError("pinned host key is not 'keytype base64' or a known_hosts line")
        key_type, blob = tokens[index], tokens[index + 1]
        try:
            keys.append(paramiko.PKey.from_type_string(key_type, base64.b64decode(blob)))
        except (binascii.Error, paramiko.SSHException, ValueError) as exc:
            raise ValueError(f"pinned host key of type {key_type} does not decode: {exc}") from exc
    if not keys:
        raise ValueError("no pinned host key given")
    return keys


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style fingerprint (``ssh-ed25519 SHA256:...``), as ``ssh-keygen -lf`` shows it."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


class _PinnedKeyPolicy(paramiko.RejectPolicy):
    """Reject every key not pinned, with an error that names host and fingerprints."""

    def __init__(self, target: SftpTarget, pinned: list[paramiko.PKey]) -> None:
        self._target = target
        self._pinned = pinned

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        """Called when the server's key type has no pin: never accept, always refuse."""
        raise HostKeyMismatchError(
            self._target.host,
            self._target.port,
            [fingerprint(k) for k in self._pinned],
            fingerprint(key),
        )


# --------------------------------------------------------------------------- connection


class SftpConnection:
    """An authenticated SFTP session; close it (or use it as a context manager)."""

    def __init__(self, client: paramiko.SSHClient, sftp: paramiko.SFTPClient, fp: str) -> None:
        self.client = client
        self.sftp = sftp
        self.host_key_fingerprint = fp

    def is_active(self) -> bool:
        """Whether the SSH transport is still up (tells connection loss from SFTP errors)."""
        transport = self.client.get_transport()
        return transport is not None and transport.is_active()

    def close(self) -> None:
        """Close the SFTP channel and the SSH connection."""
        with contextlib.suppress(Exception):
            self.sftp.close()
        self.client.close()

    def __enter__(self) -> SftpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load_private_key(target: SftpTarget) -> paramiko.PKey | None:
    if target.private_key is None:
        return None
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(
                io.StringIO(target.private_key), password=target.private_key_passphrase
            )
        except paramiko.PasswordRequiredException as exc:
            raise SftpAuthenticationError("private key is encrypted; give its passphrase") from exc
        except (paramiko.SSHException, ValueError):
            continue
    raise SftpAuthenticationError("private key is not an Ed25519, ECDSA or RSA key")


def connect(target: SftpTarget) -> SftpConnection:
    """Open one authenticated SFTP session to the target, trusting only the pinned host key.

    One attempt, no retries (`upload_once`, `list_outbox` and `download` retry).

    Args:
        target: The gateway account.

    Returns:
        The open session.

    Raises:
        HostKeyMismatchError: The server's host key is not the pinned one.
        SftpAuthenticationError: The server refused the credentials.
        GatewayConnectionError: The network, the SSH handshake or the SFTP subsystem failed.
    """
    pinned = parse_host_keys(target.host_key)
    pkey = _load_private_key(target)
    client = paramiko.SSHClient()
    # Only the pins: no system known_hosts. The first pin's type is offered first, so a
    # server with several host keys presents the pinned one.
    name = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
    for key in pinned:
        client.get_host_keys().add(name, key.get_name(), key)
    client.set_missing_host_key_policy(_PinnedKeyPolicy(target, pinned))
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            pkey=pkey,
            timeout=target.timeout,
            banner_timeout=target.timeout,
            auth_timeout=target.timeout,
            channel_timeout=target.timeout,
            allow_agent=False,
            look_for_keys=False,
        )
        transport = client.get_transport()
        server_key = transport.get_remote_server_key() if transport else None
        # Defence in depth: paramiko checked the key, check it again against the pins.
        if server_key is None or not any(server_key == key for key in pinned):
            raise HostKeyMismatchError(
                target.host,
                target.port,
                [fingerprint(k) for k in pinned],
                fingerprint(server_key) if server_key is not None else "no key",
            )
        sftp = client.open_sftp()
    except HostKeyMismatchError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyMismatchError(
            target.host, target.port, [fingerprint(k) for k in pinned], fingerprint(exc.key)
        ) from exc
    except paramiko.AuthenticationException as exc:
        client.close()
        raise SftpAuthenticationError(
            f"SFTP gateway {target.host}:{target.port} refused authentication "
            f"({type(exc).__name__}); not retried"
        ) from exc
    except (OSError, EOFError, paramiko.SSHException) as exc:
        client.close()
        raise GatewayConnectionError(
            f"cannot reach SFTP gateway {target.host}:{target.port}: {type(exc).__name__}: {exc}"
        ) from exc
    fp = fingerprint(server_key)
    log.debug("connected to %s:%s, host key %s", target.host, target.port, fp)
    return SftpConnection(client, sftp, fp)


def _with_retries(
    target: SftpTarget,
    operation: Callable[[SftpConnection], T],
    retry: RetryPolicy | None,
    what: str,
) -> tuple[T, int]:
    """Run ``operation`` in a fresh session, again after connection errors; return (result, n).

    A failure during the operation counts as a connection error only if the transport is no
    longer active: a live session that returns an SFTP error (permission denied, no such file)
    would fail the same way again.
    """
    policy = retry or RetryPolicy()
    delays = policy.delays()
    last: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            conn = connect(target)
            with conn:
                try:
                    return operation(conn), attempt
                except (OSError, EOFError, paramiko.SSHException) as exc:
                    if conn.is_active():
                        raise
                    raise GatewayConnectionError(
                        f"connection to {target.host}:{target.port} lost during {what}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
        except GatewayConnectionError as exc:
            last = exc
            if attempt < policy.attempts:
                delay = delays[attempt - 1]
                log.warning(
                    "%s: attempt %d/%d failed (%s); retrying in %.1f s",
                    what,
                    attempt,
                    policy.attempts,
                    exc,
                    delay,
                )
                policy.sleep(delay)
    raise GatewayUnavailable(
        f"SFTP gateway {target.host}:{target.port} unavailable: {what} failed after "
        f"{policy.attempts} attempts; last error: {last}"
    ) from last


# --------------------------------------------------------------------------- upload


def _safe_name(name: str) -> str:
    """Refuse names that are not one plain file name (no dirs, no dot files, no traversal)."""
    if (
        not name
        or name != posixpath.basename(name)
        or "\\" in name
        or "\x00" in name
        or name.startswith(".")
    ):
        raise ValueError(f"not a plain file name: {name!r}")
    return name


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _remote_stat(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _remote_sha256(sftp: paramiko.SFTPClient, path: str) -> str | None:
    """Hash a remote file by reading it back in chunks; None if the server forbids reading."""
    digest = hashlib.sha256()
    try:
        with sftp.open(path, "rb") as fh:
            fh.prefetch()
            while chunk := fh.read(CHUNK_SIZE):
                digest.update(chunk)
    except PermissionError:
        return None
    return digest.hexdigest()


def _compare_existing(
    sftp: paramiko.SFTPClient, path: str, remote_size: int, size: int, sha256: str
) -> str:
    """Return how an existing remote file was found identical, or raise RemoteConflictError."""
    if remote_size != size:
        raise RemoteConflictError(
            f"{path} already exists with {remote_size} bytes, not the {size} bytes being "
            "submitted; a submitted file is never overwritten"
        )
    remote_hash = _remote_sha256(sftp, path)
    if remote_hash is None:
        log.warning("%s exists with the same size; the server forbids reading it back", path)
        return "size"
    if remote_hash != sha256:
        raise RemoteConflictError(
            f"{path} already exists with different content (sha256 {remote_hash}, submitting "
            f"{sha256}); a submitted file is never overwritten"
        )
    return "sha256"


def _rename(sftp: paramiko.SFTPClient, temp: str, final: str) -> None:
    """Atomic rename; plain SFTP rename if the server refuses ``posix-rename@openssh.com``.

    posix-rename replaces an existing target, so two submitters racing on one name could
    overwrite each other; each report file has one submitting task, and the final name was
    checked just before, so the window is only that of a misconfigured duplicate DAG run.
    """
    try:
        sftp.posix_rename(temp, final)
    except OSError as exc:
        log.info("posix-rename refused (%s); falling back to rename", exc)
        sftp.rename(temp, final)


def _upload_attempt(
    conn: SftpConnection, target: SftpTarget, local_path: Path, name: str, sha256: str, size: int
) -> tuple[str, bool]:
    sftp = conn.sftp
    final = target.remote_path(target.inbox_dir, name)
    temp = posixpath.join(target.inbox_dir, f".{name}.part")

    existing = _remote_stat(sftp, final)
    if existing is not None:
        return _compare_existing(sftp, final, existing.st_size or 0, size, sha256), True

    try:
        with local_path.open("rb") as src, sftp.open(temp, "wb") as dst:
            dst.set_pipelined(True)
            while chunk := src.read(CHUNK_SIZE):
                dst.write(chunk)
        sent = sftp.stat(temp).st_size
        if sent != size:
            raise SftpIntegrityError(f"{temp} has {sent} bytes after upload, expected {size}")
        try:
            _rename(sftp, temp, final)
        except OSError:
            # Someone else may have delivered the final name meanwhile: same content is fine.
            existing = _remote_stat(sftp, final)
            if existing is None:
                raise
            return _compare_existing(sftp, final, existing.st_size or 0, size, sha256), True
        landed = sftp.stat(final).st_size
        if landed != size:
            raise SftpIntegrityError(f"{final} has {landed} bytes after rename, expected {size}")
    except BaseException:
        if conn.is_active():
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                sftp.remove(temp)
        raise
    return "sha256", False


def upload_once(
    target: SftpTarget,
    local_path: Path | str,
    remote_name: str,
    sha256: str,
    *,
    retry: RetryPolicy | None = None,
) -> UploadResult:
    """Deliver a local file to the gateway's inbox exactly once (see the module docstring).

    Args:
        target: The gateway account.
        local_path: The file to submit.
        remote_name: Final file name in the inbox (a plain name, as the regulator requires).
        sha256: Expected SHA-256 (hex) of the file, e.g. from the report registry; the local
            file is checked against it first, so we never submit something other than what
            was archived.
        retry: Retry policy for connection errors; default `RetryPolicy()`.

    Returns:
        Where the file is and whether it was already there.

    Raises:
        SftpIntegrityError: The local file does not match ``sha256``, or a size check failed.
        RemoteConflictError: Different content already exists under ``remote_name``.
        HostKeyMismatchError: The server's host key is not the pinned one (not retried).
        SftpAuthenticationError: Credentials refused (not retried).
        GatewayUnavailable: Every attempt failed with a connection error.
    """
    path = Path(local_path)
    name = _safe_name(remote_name)
    expected = sha256.lower()
    actual, size = _sha256_file(path)
    if actual != expected:
        raise SftpIntegrityError(
            f"{path.name} has sha256 {actual}, expected {expected}; refusing to submit"
        )
    (verified_by, present), attempts = _with_retries(
        target,
        lambda conn: _upload_attempt(conn, target, path, name, expected, size),
        retry,
        f"upload of {name}",
    )
    final = target.remote_path(target.inbox_dir, name)
    log.info(
        "%s %s to %s:%s (%d bytes, %d attempt(s))",
        "found" if present else "uploaded",
        final,
        target.host,
        target.port,
        size,
        attempts,
    )
    return UploadResult(final, size, expected, present, verified_by, attempts)


# --------------------------------------------------------------------------- feedback


def list_outbox(target: SftpTarget, *, retry: RetryPolicy | None = None) -> list[RemoteFile]:
    """List the regular files in the outbox, sorted by name, skipping dot (in-progress) files.

    Args:
        target: The gateway account.
        retry: Retry policy for connection errors.

    Returns:
        The feedback files the gateway has published.
    """

    def op(conn: SftpConnection) -> list[RemoteFile]:
        files = [
            RemoteFile(a.filename, a.st_size or 0, a.st_mtime)
            for a in conn.sftp.listdir_attr(target.outbox_dir)
            if a.st_mode is not None and stat.S_ISREG(a.st_mode) and not a.filename.startswith(".")
        ]
        return sorted(files, key=lambda f: f.name)

    files, _ = _with_retries(target, op, retry, "listing the outbox")
    return files


def download(
    target: SftpTarget,
    remote_name: str,
    local_dir: Path | str,
    *,
    retry: RetryPolicy | None = None,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
) -> Path:
    """Download an outbox file atomically: temp file in ``local_dir``, size check, rename.

    A reader of ``local_dir`` never sees a partial file, and a failed download leaves nothing
    behind. The remote name must be a plain file name, so a hostile listing cannot write
    outside ``local_dir``.

    Args:
        target: The gateway account.
        remote_name: File name in the outbox.
        local_dir: Existing local directory to write into.
        retry: Retry policy for connection errors.
        max_bytes: Refuse files larger than this (protects the worker's disk).

    Returns:
        The local path of the downloaded file.

    Raises:
        SftpIntegrityError: Size mismatch, or the file is larger than ``max_bytes``.
    """
    name = _safe_name(remote_name)
    directory = Path(local_dir)
    final = directory / name
    remote = target.remote_path(target.outbox_dir, name)

    def op(conn: SftpConnection) -> Path:
        size = conn.sftp.stat(remote).st_size or 0
        if size > max_bytes:
            raise SftpIntegrityError(f"{remote} has {size} bytes, more than the {max_bytes} cap")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
        tmp = Path(tmp_name)
        try:
            received = 0
            with os.fdopen(fd, "wb") as dst, conn.sftp.open(remote, "rb") as src:
                src.prefetch(size)
                while chunk := src.read(CHUNK_SIZE):
                    received += len(chunk)
                    if received > max_bytes:
                        raise SftpIntegrityError(f"{remote} grew beyond the {max_bytes} cap")
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            if received != size:
                raise SftpIntegrityError(f"{remote}: received {received} bytes, expected {size}")
            tmp.replace(final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final

    path, _ = _with_retries(target, op, retry, f"download of {name}")
    log.info("downloaded %s from %s:%s", remote, target.host, target.port)
    return path
