"""Exactly-once SFTP submission and feedback pickup, with real paramiko against an asyncssh server.

STAND-IN: the ``gateway`` fixture below is a minimal in-process asyncssh SFTP server (chroot to
tmp_path, password auth, one ed25519 host key, 127.0.0.1 port 0, background thread). It exists
only until the regulator gateway simulator of issue 4 lands; then these tests should run against
the simulator instead. Its hooks (event log, refused posix-rename, a dropped connection after
the rename) let the tests see what the client did on the server side.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from regreport.sftp import (
    GatewayUnavailable,
    HostKeyMismatchError,
    RemoteConflictError,
    RemoteFile,
    RetryPolicy,
    SftpAuthenticationError,
    SftpIntegrityError,
    SftpTarget,
    connect,
    download,
    fingerprint,
    list_outbox,
    parse_host_keys,
    upload_once,
)

pytestmark = pytest.mark.unit

USER = "firm-test"
PASSWORD = "correct horse"


@dataclass
class GatewayStub:
    """State of the stand-in server, shared between the server thread and the test."""

    root: Path
    host_key_line: str = ""
    port: int = 0
    events: list[tuple[str, ...]] = field(default_factory=list)
    auth_attempts: int = 0
    refuse_posix_rename: bool = False
    drop_after_rename: int = 0  # drop the connection after the next N renames, before replying
    temp_size_at_rename: list[int] = field(default_factory=list)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"


class _Server(asyncssh.SSHServer):
    def __init__(self, stub: GatewayStub) -> None:
        self.stub = stub

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        self.stub.auth_attempts += 1
        return username == USER and password == PASSWORD


class _Sftp(asyncssh.SFTPServer):
    """Chrooted SFTP server that logs opens and renames and can misbehave on request."""

    def __init__(self, chan: asyncssh.SSHServerChannel, stub: GatewayStub) -> None:
        super().__init__(chan, chroot=os.fsencode(stub.root))
        self.stub = stub

    def _local(self, path: bytes) -> str:
        return os.fsdecode(self.map_path(path))

    def _rel(self, path: bytes) -> str:
        return os.path.relpath(self._local(path), self.stub.root)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        mode = "w" if pflags & asyncssh.FXF_WRITE else "r"
        self.stub.events.append(("open", self._rel(path), mode))
        return super().open(path, pflags, attrs)

    def _renamed(self, kind: str, old: bytes, new: bytes) -> None:
        self.stub.events.append((kind, self._rel(old), self._rel(new)))
        if self.stub.drop_after_rename > 0:
            self.stub.drop_after_rename -= 1
            self.channel.get_connection().abort()

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        if self.stub.refuse_posix_rename:
            raise asyncssh.SFTPOpUnsupported("posix-rename disabled in this test")
        self.stub.temp_size_at_rename.append(os.path.getsize(self._local(oldpath)))
        super().posix_rename(oldpath, newpath)
        self._renamed("posix_rename", oldpath, newpath)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self.stub.temp_size_at_rename.append(os.path.getsize(self._local(oldpath)))
        super().rename(oldpath, newpath)
        self._renamed("rename", oldpath, newpath)


@pytest.fixture
def gateway(tmp_path: Path):
    """Stand-in SFTP gateway until the issue-4 simulator lands (see the module docstring)."""
    stub = GatewayStub(root=tmp_path / "gateway")
    stub.inbox.mkdir(parents=True)
    stub.outbox.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    stub.host_key_line = host_key.export_public_key().decode().strip()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            server_factory=lambda: _Server(stub),
            sftp_factory=lambda chan: _Sftp(chan, stub),
        )

    acceptor = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    stub.port = acceptor.get_port()
    try:
        yield stub
    finally:

        async def stop() -> None:
            acceptor.close()
            await acceptor.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _target(stub: GatewayStub, **overrides: object) -> SftpTarget:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": stub.port,
        "username": USER,
        "password": PASSWORD,
        "host_key": stub.host_key_line,
        "timeout": 10.0,
    }
    values.update(overrides)
    return SftpTarget(**values)  # type: ignore[arg-type]


def _report(tmp_path: Path, content: bytes = b"<Document>report</Document>\n" * 1000):
    path = tmp_path / "local" / "DATTRA_FIRM_2026-11-02_001.xml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _no_temp_files(stub: GatewayStub) -> bool:
    return not [p for p in stub.inbox.iterdir() if p.name.startswith(".")]


def test_upload_writes_temp_name_then_renames(gateway: GatewayStub, tmp_path: Path) -> None:
    path, sha = _report(tmp_path)
    sleeps = Sleeps()

    result = upload_once(_target(gateway), path, path.name, sha, retry=RetryPolicy(sleep=sleeps))

    assert result.already_present is False
    assert result.attempts == 1
    assert result.remote_path == f"inbox/{path.name}"
    assert (gateway.inbox / path.name).read_bytes() == path.read_bytes()
    # The final name is never opened for writing: only the temp name is, and it becomes the
    # final name by one rename, after all bytes were written.
    temp = f"inbox/.{path.name}.part"
    writes = [e for e in gateway.events if e[0] == "open" and e[2] == "w"]
    assert writes == [("open", temp, "w")]
    assert gateway.events[-1] == ("posix_rename", temp, f"inbox/{path.name}")
    assert gateway.temp_size_at_rename == [path.stat().st_size]
    assert _no_temp_files(gateway)
    assert sleeps == []


def test_second_upload_is_a_no_op(gateway: GatewayStub, tmp_path: Path) -> None:
    path, sha = _report(tmp_path)
    upload_once(_target(gateway), path, path.name, sha)
    gateway.events.clear()

    again = upload_once(_target(gateway), path, path.name, sha)

    assert again.already_present is True
    assert again.verified_by == "sha256"
    assert not [e for e in gateway.events if e[0] != "open" or e[2] != "r"]  # read back only


def test_same_name_different_content_conflicts(gateway: GatewayStub, tmp_path: Path) -> None:
    path, sha = _report(tmp_path)
    (gateway.inbox / path.name).write_bytes(b"x" * path.stat().st_size)  # same size, other bytes

    with pytest.raises(RemoteConflictError, match="different content"):
        upload_once(_target(gateway), path, path.name, sha)

    (gateway.inbox / path.name).write_bytes(b"short")
    with pytest.raises(RemoteConflictError, match="never overwritten"):
        upload_once(_target(gateway), path, path.name, sha)
    assert (gateway.inbox / path.name).read_bytes() == b"short"
    assert _no_temp_files(gateway)


def test_falls_back_to_rename_when_posix_rename_is_refused(
    gateway: GatewayStub, tmp_path: Path
) -> None:
    gateway.refuse_posix_rename = True
    path, sha = _report(tmp_path)

    result = upload_once(_target(gateway), path, path.name, sha)

    assert result.already_present is False
    assert gateway.events[-1] == ("rename", f"inbox/.{path.name}.part", f"inbox/{path.name}")
    assert (gateway.inbox / path.name).read_bytes() == path.read_bytes()


def test_connection_lost_after_rename_is_retried_and_found_present(
    gateway: GatewayStub, tmp_path: Path
) -> None:
    # The hard exactly-once case: the rename happened but its reply never arrived.
    gateway.drop_after_rename = 1
    path, sha = _report(tmp_path)
    sleeps = Sleeps()

    result = upload_once(
        _target(gateway), path, path.name, sha, retry=RetryPolicy(base_delay=1.5, sleep=sleeps)
    )

    assert result.already_present is True
    assert result.attempts == 2
    assert sleeps == [1.5]
    assert len(gateway.temp_size_at_rename) == 1  # uploaded once
    assert (gateway.inbox / path.name).read_bytes() == path.read_bytes()


def test_wrong_host_key_is_refused(gateway: GatewayStub, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    path, sha = _report(tmp_path)
    sleeps = Sleeps()

    with pytest.raises(HostKeyMismatchError) as info:
        upload_once(
            _target(gateway, host_key=f"[127.0.0.1]:{gateway.port} {other}"),
            path,
            path.name,
            sha,
            retry=RetryPolicy(sleep=sleeps),
        )

    message = str(info.value)
    assert f"127.0.0.1:{gateway.port}" in message
    assert fingerprint(parse_host_keys(other)[0]) in message
    assert fingerprint(parse_host_keys(gateway.host_key_line)[0]) in message
    assert sleeps == []
    assert gateway.auth_attempts == 0  # never sent credentials to the impostor
    assert list(gateway.inbox.iterdir()) == []


def test_pin_of_another_key_type_is_refused(gateway: GatewayStub) -> None:
    rsa = asyncssh.generate_private_key("ssh-rsa", key_size=2048).export_public_key().decode()
    with pytest.raises(HostKeyMismatchError, match="ssh-ed25519 SHA256:"):
        connect(_target(gateway, host_key=rsa))


def test_wrong_password_is_not_retried(gateway: GatewayStub, tmp_path: Path) -> None:
    path, sha = _report(tmp_path)
    sleeps = Sleeps()

    with pytest.raises(SftpAuthenticationError, match="not retried") as info:
        upload_once(
            _target(gateway, password="wrong"),
            path,
            path.name,
            sha,
            retry=RetryPolicy(sleep=sleeps),
        )

    assert "wrong" not in str(info.value)
    assert sleeps == []
    assert gateway.auth_attempts == 1


def test_server_down_retries_then_gateway_unavailable(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    target = SftpTarget(host="127.0.0.1", port=port, username=USER, password="p", host_key=key)
    path, sha = _report(tmp_path)
    sleeps = Sleeps()

    with pytest.raises(GatewayUnavailable, match="after 4 attempts"):
        upload_once(
            target,
            path,
            path.name,
            sha,
            retry=RetryPolicy(attempts=4, base_delay=0.5, sleep=sleeps),
        )

    assert sleeps == [0.5, 1.0, 2.0]


def test_local_file_must_match_the_announced_hash(gateway: GatewayStub, tmp_path: Path) -> None:
    path, _ = _report(tmp_path)
    with pytest.raises(SftpIntegrityError, match="refusing to submit"):
        upload_once(_target(gateway), path, path.name, "0" * 64)
    assert gateway.auth_attempts == 0


@pytest.mark.parametrize("name", ["", "../x.xml", "a/b.xml", ".hidden.xml"])
def test_remote_name_must_be_a_plain_file_name(
    gateway: GatewayStub, tmp_path: Path, name: str
) -> None:
    path, sha = _report(tmp_path)
    with pytest.raises(ValueError, match="plain file name"):
        upload_once(_target(gateway), path, name, sha)


def test_list_outbox_and_download(gateway: GatewayStub, tmp_path: Path) -> None:
    feedback = b"<auth.031/>" * 5000
    (gateway.outbox / "FDBSTA_001.xml").write_bytes(feedback)
    (gateway.outbox / "FDBSTA_000.xml").write_bytes(b"<a/>")
    (gateway.outbox / ".FDBSTA_002.xml.part").write_bytes(b"in progress")
    (gateway.outbox / "archive").mkdir()
    local = tmp_path / "feedback"
    local.mkdir()

    files = list_outbox(_target(gateway))
    assert [(f.name, f.size) for f in files] == [
        ("FDBSTA_000.xml", 4),
        ("FDBSTA_001.xml", len(feedback)),
    ]
    assert all(isinstance(f, RemoteFile) and f.mtime for f in files)

    got = download(_target(gateway), "FDBSTA_001.xml", local)
    assert got == local / "FDBSTA_001.xml"
    assert got.read_bytes() == feedback
    assert [p.name for p in local.iterdir()] == ["FDBSTA_001.xml"]  # no temp file left

    with pytest.raises(SftpIntegrityError, match="cap"):
        download(_target(gateway), "FDBSTA_001.xml", tmp_path, max_bytes=10)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="plain file name"):
        download(_target(gateway), "../inbox/x.xml", local)


def test_from_mapping_reads_airflow_style_fields(gateway: GatewayStub) -> None:
    target = SftpTarget.from_mapping(
        {
            "host": "127.0.0.1",
            "port": gateway.port,
            "login": USER,
            "password": PASSWORD,
            "schema": None,
            "extra": json.dumps(
                {"host_key": gateway.host_key_line, "inbox": "inbox", "outbox": "outbox"}
            ),
        }
    )
    assert target.username == USER
    assert target.port == gateway.port
    assert PASSWORD not in repr(target)
    with connect(target) as conn:
        assert conn.host_key_fingerprint == fingerprint(parse_host_keys(gateway.host_key_line)[0])

    with pytest.raises(ValueError, match="no_host_key_check"):
        SftpTarget.from_mapping({**target.__dict__, "extra": {"no_host_key_check": "true"}})
    with pytest.raises(ValueError, match="host_key"):
        SftpTarget.from_mapping({"host": "h", "login": "u", "password": "p"})


def test_from_mapping_reads_the_pin_from_a_known_hosts_file(
    gateway: GatewayStub, tmp_path: Path
) -> None:
    """docker-compose mounts the gateway's published known_hosts; the pin is read from it."""
    pin = tmp_path / "known_hosts"
    pin.write_text(gateway.host_key_line + "\n")
    target = SftpTarget.from_mapping(
        {
            "host": "127.0.0.1",
            "port": gateway.port,
            "login": USER,
            "password": PASSWORD,
            "extra": {"host_key_file": str(pin)},
        }
    )
    with connect(target) as conn:
        assert conn.host_key_fingerprint == fingerprint(parse_host_keys(gateway.host_key_line)[0])
    with pytest.raises(FileNotFoundError):
        SftpTarget.from_mapping(
            {"host": "h", "login": "u", "password": "p", "host_key_file": str(tmp_path / "no")}
        )
