"""Gateway configuration: TOML loading, validation of settings, password hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from regreport.gateway import GatewayConfig, GatewayConfigError, ScriptedOutcome
from regreport.gateway.config import verify_password

pytestmark = pytest.mark.unit


def test_load_toml(tmp_path: Path, password_hashes) -> None:
    (tmp_path / "gateway.toml").write_text(
        'nca_country = "DE"\nfile_name_pattern = "esma"\ninstruments_file = "ref/isins.txt"\n'
        f'[[users]]\nname = "u"\npassword_hash = "{password_hashes["firm1"]}"\nfirm = "F1"\n'
        '[[outcomes]]\ntx_id = "T"\nrecord_status = "RJCT"\nrule_id = "CON-1"\n'
        'rule_desc = "scripted"\n'
    )
    cfg = GatewayConfig.load(tmp_path, tick_seconds=None)
    assert cfg.nca_country == "DE"
    assert cfg.tick_seconds is None
    assert cfg.instruments_file == (tmp_path / "ref" / "isins.txt").resolve()
    assert cfg.user("u").firm == "F1"
    assert cfg.outcomes == (
        ScriptedOutcome(tx_id="T", record_status="RJCT", rule_id="CON-1", rule_desc="scripted"),
    )
    assert cfg.is_valid_name("529900T8BM49AURSDO55_DATTRA_FR_000001_01_26.xml")
    assert not cfg.is_valid_name("MIFIR_RTS22_529900T8BM49AURSDO55_20261126_S001_P01.xml")


def test_missing_default_file_means_defaults(tmp_path: Path) -> None:
    cfg = GatewayConfig.load(tmp_path)
    assert cfg.users == ()
    assert cfg.is_valid_name("MIFIR_RTS22_529900T8BM49AURSDO55_20261126_S001_P01.xml")
    assert cfg.is_temp_name(".x.xml")
    assert cfg.is_temp_name("x.xml.part")
    assert not cfg.is_temp_name("x.xml")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"colour": "blue"}, "unknown gateway settings: colour"),
        ({"users": [{"name": "u", "password_hash": "x", "firm": "../etc"}]}, "safe name"),
        ({"users": [{"name": "u", "pw": "x", "firm": "F"}]}, "bad user or outcome"),
        ({"outcomes": [{"file_status": "NOPE"}]}, "not a code"),
        ({"outcomes": [{"record_status": "RJCT"}]}, "needs tx_id"),
        ({"file_name_pattern": "("}, "not a regex"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, data: dict, match: str) -> None:
    with pytest.raises(GatewayConfigError, match=match):
        GatewayConfig.from_mapping(tmp_path, data)


def test_passwords(password_hashes) -> None:
    stored = password_hashes["firm1"]
    assert stored.startswith("scrypt$")
    assert "s3cret" not in stored
    assert verify_password("s3cret-for-tests", stored)
    assert not verify_password("s3cret-for-test", stored)
    assert not verify_password("x", "garbage")
