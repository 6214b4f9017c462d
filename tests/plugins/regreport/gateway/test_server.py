"""The gateway over real SFTP: asyncssh server on 127.0.0.1:0, paramiko client, pinned key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import paramiko
import pytest
from lxml import etree

from regreport.gateway import Gateway, GatewayServer, advice_file_name, public_host_key
from regreport.gateway.server import host_key_path
from regreport.gateway.status_advice import load_status_advice_schema

pytestmark = pytest.mark.unit

NS = {"a": "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"}


@pytest.fixture
def server(gateway: Gateway):
    with GatewayServer(gateway) as srv:
        yield srv


@pytest.fixture
def sftp(server: GatewayServer, sftp_connect, tmp_path: Path, kit):
    client = sftp_connect(
        server.host, server.port, server.known_hosts_line(), "firm1", kit.PASSWORD, tmp_path
    )
    with client, client.open_sftp() as sftp:
        yield sftp


def read_advice(sftp: paramiko.SFTPClient, name: str, schemas_dir: Path) -> etree._Element:
    with sftp.open(f"/outbox/{name}") as fh:
        root = etree.fromstring(fh.read())
    schema = load_status_advice_schema(schemas_dir)
    assert schema.validate(root), schema.error_log
    return root


def put_bytes(sftp: paramiko.SFTPClient, path: str, data: bytes) -> None:
    with sftp.open(path, "wb") as fh:
        fh.write(data)


def test_valid_upload_gets_acpt(sftp, kit, schemas_dir: Path) -> None:
    assert sorted(sftp.listdir("/")) == ["inbox", "outbox"]
    name = kit.file_name()
    put_bytes(sftp, f"/inbox/{name}", kit.submission([("TX1", kit.KNOWN_ISIN)]))
    assert sftp.listdir("/outbox") == [advice_file_name(name)]
    root = read_advice(sftp, advice_file_name(name), schemas_dir)
    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "ACPT"


def test_unknown_isin_then_duplicate_then_corrupt_then_wrong_name(
    sftp, server: GatewayServer, kit, schemas_dir: Path
) -> None:
    put_bytes(sftp, f"/inbox/{kit.file_name(1)}", kit.submission([("TX1", kit.UNKNOWN_ISIN)]))
    root = read_advice(sftp, advice_file_name(kit.file_name(1)), schemas_dir)
    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "PART"
    assert root.findtext(".//a:RcrdSts/a:VldtnRule/a:Id", namespaces=NS) == "CON-411"

    put_bytes(sftp, f"/inbox/{kit.file_name(2)}", kit.submission([("TX1", kit.KNOWN_ISIN)]))
    root = read_advice(sftp, advice_file_name(kit.file_name(2)), schemas_dir)
    assert root.findtext(".//a:RcrdSts/a:VldtnRule/a:Id", namespaces=NS) == "CON-023"

    # "Days later": the pending record is rejected; the new advice reaches the outbox.
    server.gateway.recheck_pending()
    server.gateway.recheck_pending()
    root = read_advice(sftp, advice_file_name(kit.file_name(1), 2), schemas_dir)
    assert root.findtext(".//a:RcrdSts/a:VldtnRule/a:Id", namespaces=NS) == "CON-412"

    put_bytes(sftp, f"/inbox/{kit.file_name(3)}", b"\x00\x01 not xml")
    root = read_advice(sftp, advice_file_name(kit.file_name(3)), schemas_dir)
    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "CRPT"

    put_bytes(sftp, "/inbox/whatever.xml", kit.submission([("TX5", kit.KNOWN_ISIN)]))
    root = read_advice(sftp, "whatever_FDBK_001.xml", schemas_dir)
    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "INCF"


def test_temp_upload_is_processed_only_after_rename(sftp, server, kit) -> None:
    name = kit.file_name()
    put_bytes(sftp, f"/inbox/{name}.part", kit.submission([("TX1", kit.KNOWN_ISIN)]))
    server.gateway.tick()  # a scan must not take the temporary file either
    assert sftp.listdir("/outbox") == []
    sftp.posix_rename(f"/inbox/{name}.part", f"/inbox/{name}")
    assert sftp.listdir("/outbox") == [advice_file_name(name)]
    # Plain SFTP rename works too.
    put_bytes(sftp, "/inbox/.hidden", kit.submission([("TX2", kit.KNOWN_ISIN)]))
    assert len(sftp.listdir("/outbox")) == 1
    sftp.rename("/inbox/.hidden", f"/inbox/{kit.file_name(2)}")
    assert advice_file_name(kit.file_name(2)) in sftp.listdir("/outbox")


def test_writes_are_confined_to_inbox(sftp, kit) -> None:
    data = kit.submission([("TX1", kit.KNOWN_ISIN)])
    for path in ("/outbox/x.xml", "/x.xml", "/../FIRM2/inbox/x.xml"):
        with pytest.raises(PermissionError):
            put_bytes(sftp, path, data)
    with pytest.raises(PermissionError):
        sftp.mkdir("/inbox/sub")
    with pytest.raises(PermissionError):
        sftp.symlink("/outbox", "/inbox/link")
    # The chroot: ".." stays inside the firm's folder.
    assert sorted(sftp.listdir("/..")) == ["inbox", "outbox"]


def test_firms_are_isolated(server, sftp_connect, tmp_path: Path, kit) -> None:
    client = sftp_connect(
        server.host, server.port, server.known_hosts_line(), "firm2", kit.OTHER_PASSWORD, tmp_path
    )
    with client, client.open_sftp() as sftp:
        put_bytes(sftp, f"/inbox/{kit.file_name()}", kit.submission([("TX1", kit.KNOWN_ISIN)]))
        assert sftp.listdir("/outbox") == [advice_file_name(kit.file_name())]
    assert (server.gateway.config.firm_dir("FIRM2") / "inbox" / kit.file_name()).is_file()
    assert not (server.gateway.config.firm_dir("FIRM1") / "inbox" / kit.file_name()).exists()


@pytest.mark.parametrize(("user", "password"), [("firm1", "wrong"), ("nobody", "s3cret")])
def test_wrong_credentials_are_rejected(server, sftp_connect, tmp_path, user, password) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        sftp_connect(server.host, server.port, server.known_hosts_line(), user, password, tmp_path)


def test_unpinned_host_key_is_rejected(server, sftp_connect, tmp_path: Path, kit) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    wrong = f"[{server.host}]:{server.port} {other[0]} {other[1]}"
    with pytest.raises(paramiko.BadHostKeyException):
        sftp_connect(server.host, server.port, wrong, "firm1", kit.PASSWORD, tmp_path)


def test_host_key_is_generated_once(gateway: Gateway) -> None:
    key = public_host_key(gateway.config.root)
    assert key.startswith("ssh-ed25519 ")
    assert public_host_key(gateway.config.root) == key
    assert os.stat(host_key_path(gateway.config.root)).st_mode & 0o077 == 0
    with GatewayServer(gateway) as srv:
        assert srv.known_hosts_line().endswith(key)


def test_runs_as_a_process(tmp_path: Path, password_hashes, schemas_dir, sftp_connect, kit):
    root = tmp_path / "gw"
    root.mkdir()
    (root / "instruments.txt").write_text(f"{kit.KNOWN_ISIN}\n")
    (root / "gateway.toml").write_text(
        f'schemas_dir = "{schemas_dir}"\ninstruments_file = "instruments.txt"\n'
        f'[[users]]\nname = "firm1"\npassword_hash = "{password_hashes["firm1"]}"\n'
        'firm = "FIRM1"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "regreport.gateway", "--root", str(root), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    info_file = root / "run" / "gateway.pid"
    try:
        deadline = time.monotonic() + 60
        while not info_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert info_file.exists(), proc.stderr.read().decode() if proc.poll() else "no pid file"
        info = json.loads((root / "run" / "gateway.json").read_text())
        assert int(info_file.read_text()) == proc.pid == info["pid"]
        assert int((root / "run" / "gateway.port").read_text()) == info["port"]
        client = sftp_connect(
            "127.0.0.1", info["port"], info["known_hosts"], "firm1", kit.PASSWORD, tmp_path
        )
        with client, client.open_sftp() as sftp:
            put_bytes(sftp, f"/inbox/{kit.file_name()}", kit.submission([("T", kit.KNOWN_ISIN)]))
            assert sftp.listdir("/outbox") == [advice_file_name(kit.file_name())]
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert not info_file.exists()
