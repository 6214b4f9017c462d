"""Fixtures for the gateway simulator: a configured gateway, submission files, SFTP clients.

Submission files are built from the golden file tests/plugins/regreport/xml/golden/
01_share_aotc_lei_client_ccp.xml (one XSD-valid share record), repeating its record with other
TxIds and ISINs, so every input is a file the platform's own renderer would write.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paramiko
import pytest

from regreport.config import Settings
from regreport.gateway import FirmUser, Gateway, GatewayConfig, hash_password

GOLDEN = Path(__file__).resolve().parents[1] / "xml" / "golden"
FIRM_LEI = "529900T8BM49AURSDO55"
KNOWN_ISIN = "FR0000120271"
UNKNOWN_ISIN = "DE000A0D6554"
PASSWORD = "s3cret-for-tests"
OTHER_PASSWORD = "other-firm-pass"


def file_name(sequence: int = 1, part: int = 1) -> str:
    """A name following the platform's "regreport" naming convention."""
    return f"MIFIR_RTS22_{FIRM_LEI}_20261126_S{sequence:03d}_P{part:02d}.xml"


def submission(
    records: list[tuple[str, str]],
    *,
    biz_msg_id: str = "MIFIR_RTS22-20261126-S001-P01",
    cancels: tuple[str, ...] = (),
) -> bytes:
    """An auth.016 file with one New per (TxId, ISIN) and one Cxl per TxId in `cancels`."""
    text = (GOLDEN / "01_share_aotc_lei_client_ccp.xml").read_text()
    new_line = re.search(r"^\s*<Tx><New>.*</New></Tx>\n", text, re.M)
    cxl_line = re.search(
        r"^\s*<Tx><Cxl>.*</Cxl></Tx>\n", (GOLDEN / "16_cancel.xml").read_text(), re.M
    )
    assert new_line
    assert cxl_line
    body = "".join(
        new_line.group(0).replace("QS1001", tx_id).replace(KNOWN_ISIN, isin)
        for tx_id, isin in records
    ) + "".join(cxl_line.group(0).replace("QS1001", tx_id) for tx_id in cancels)
    text = text.replace(new_line.group(0), body)
    return text.replace("MIFIR_RTS22-20261126-S001-P01", biz_msg_id).encode()


class Kit:
    """The helpers above, as a fixture (test modules cannot import conftest in importlib mode)."""

    FIRM_LEI = FIRM_LEI
    KNOWN_ISIN = KNOWN_ISIN
    UNKNOWN_ISIN = UNKNOWN_ISIN
    PASSWORD = PASSWORD
    OTHER_PASSWORD = OTHER_PASSWORD
    file_name = staticmethod(file_name)
    submission = staticmethod(submission)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit


class FakeClock:
    """A clock the test moves by hand, so that pending records can age without waiting."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    return Settings.from_env().schemas_dir


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    # scrypt is deliberately slow; hash once per session.
    return {"firm1": hash_password(PASSWORD), "firm2": hash_password(OTHER_PASSWORD)}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_config(tmp_path: Path, schemas_dir: Path, password_hashes: dict[str, str]):
    """Build a config under tmp_path/gw; keyword arguments override settings."""

    def make(**overrides: object) -> GatewayConfig:
        root = tmp_path / "gw"
        root.mkdir(exist_ok=True)
        instruments = root / "instruments.txt"
        if not instruments.exists():
            instruments.write_text(f"# known instruments\n{KNOWN_ISIN}\n")
        settings: dict[str, object] = {
            "users": (
                FirmUser("firm1", password_hashes["firm1"], "FIRM1"),
                FirmUser("firm2", password_hashes["firm2"], "FIRM2"),
            ),
            "schemas_dir": schemas_dir,
            "instruments_file": instruments,
            "pending_max_checks": 2,
            "pending_max_days": 7,
            "tick_seconds": None,
        }
        settings.update(overrides)
        return GatewayConfig(root=root, **settings)  # type: ignore[arg-type]

    return make


@pytest.fixture
def gateway(make_config, clock: FakeClock) -> Gateway:
    return Gateway(make_config(), clock=clock)


@pytest.fixture(scope="session")
def sftp_connect():
    return connect


def connect(host: str, port: int, known_hosts: str, user: str, password: str, tmp: Path):
    """A paramiko SFTP client that accepts only the pinned host key."""
    hosts_file = tmp / "known_hosts"
    hosts_file.write_text(known_hosts + "\n")
    client = paramiko.SSHClient()
    client.load_host_keys(str(hosts_file))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host,
        port=port,
        username=user,
        password=password,
        allow_agent=False,
        look_for_keys=False,
        timeout=30,
        banner_timeout=30,
        auth_timeout=30,
    )
    return client
