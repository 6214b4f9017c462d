"""The gateway applies the platform's rule catalogue per record, as `regreport validate` does.

A schema-valid file whose first record has a buyer LEI with wrong check digits: that record is
rejected with ESMA's code (CON-070) and our rule's message, the others are accepted; the same
file without the defect is accepted whole.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from regreport.gateway import Gateway, ScriptedOutcome
from regreport.gateway.status_advice import load_status_advice_schema

pytestmark = pytest.mark.unit

NS = {"a": "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"}
CLIENT_LEI = "969500QSCLIENT000179"
#: The same LEI with wrong check digits: ISO 17442 shape, MOD 97-10 fails.
BAD_CHECK_DIGITS = "969500QSCLIENT000178"


def _upload(gw: Gateway, name: str, body: bytes) -> etree._Element:
    (gw.config.firm_dir("FIRM1") / "inbox" / name).write_bytes(body)
    (written,) = gw.process_upload("FIRM1", name)
    return etree.parse(str(gw.config.firm_dir("FIRM1") / "outbox" / written)).getroot()


def _records(root: etree._Element) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    return {
        r.findtext("a:OrgnlRcrdId", namespaces=NS): (
            r.findtext("a:Sts", namespaces=NS),
            [
                (v.findtext("a:Id", namespaces=NS), v.findtext("a:Desc", namespaces=NS))
                for v in r.findall("a:VldtnRule", NS)
            ],
        )
        for r in root.iterfind(".//a:RcrdSts", NS)
    }


def _bad_first_record(kit) -> bytes:
    records = [("TX1", kit.KNOWN_ISIN), ("TX2", kit.KNOWN_ISIN), ("TX3", kit.KNOWN_ISIN)]
    good, bad = f"<LEI>{CLIENT_LEI}</LEI>".encode(), f"<LEI>{BAD_CHECK_DIGITS}</LEI>".encode()
    return kit.submission(records).replace(good, bad, 1)


def test_record_with_bad_lei_check_digits_is_rejected_the_others_accepted(
    gateway: Gateway, schemas_dir: Path, kit
) -> None:
    root = _upload(gateway, kit.file_name(), _bad_first_record(kit))

    assert load_status_advice_schema(schemas_dir).validate(root.getroottree())
    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "PART"
    found = _records(root)
    assert list(found) == ["TX1"]
    status, rules = found["TX1"]
    assert status == "RJCT"
    ((rule_id, desc),) = rules
    assert rule_id == "CON-070"
    assert desc.startswith("RR-LEI-002: LEI check digits are wrong")
    assert "buyer_id" in desc
    assert BAD_CHECK_DIGITS not in desc  # the catalogue's message, never the value
    counts = {
        n.findtext("a:DtldSts", namespaces=NS): n.findtext("a:DtldNbOfRcrds", namespaces=NS)
        for n in root.iterfind(".//a:NbOfRcrdsPerSts", NS)
    }
    assert counts == {"ACPT": "2", "RJCT": "1"}


def test_rejected_record_does_not_hold_its_tx_id(gateway: Gateway, kit) -> None:
    """A record rejected for content can be resent, corrected, under the same TxId."""
    _upload(gateway, kit.file_name(1), _bad_first_record(kit))

    root = _upload(gateway, kit.file_name(2), kit.submission([("TX1", kit.KNOWN_ISIN)]))

    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "ACPT"


def test_clean_file_is_accepted_whole(gateway: Gateway, kit) -> None:
    body = kit.submission([("TX1", kit.KNOWN_ISIN), ("TX2", kit.KNOWN_ISIN)])

    root = _upload(gateway, kit.file_name(), body)

    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "ACPT"
    assert _records(root) == {}


def test_golden_cases_from_the_renderer_pass_the_gateway_catalogue(gateway: Gateway, kit) -> None:
    """The platform's own clean renderings are not rejected for content (pending is fine)."""
    golden = Path(__file__).resolve().parents[1] / "xml" / "golden"
    for number, name in enumerate(("01_share_aotc_lei_client_ccp", "11_short_sale", "13_bond")):
        root = _upload(gateway, kit.file_name(number + 1), (golden / f"{name}.xml").read_bytes())
        assert all(status != "RJCT" for status, _ in _records(root).values()), name


def test_scripted_record_outcome_still_wins(make_config, clock, kit) -> None:
    outcome = ScriptedOutcome(
        tx_id="TX1", record_status="ACPT", rule_id="SCRIPTED", rule_desc="forced"
    )
    gw = Gateway(make_config(outcomes=(outcome,)), clock=clock)

    root = _upload(gw, kit.file_name(), _bad_first_record(kit))

    assert root.findtext(".//a:MsgSts/a:Sts", namespaces=NS) == "ACPT"


def test_refdata_dir_is_configurable(make_config, tmp_path: Path) -> None:
    config = make_config(refdata_dir=tmp_path)
    assert config.resolved_refdata_dir() == tmp_path
