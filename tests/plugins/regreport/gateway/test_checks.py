"""The gateway engine without SFTP: file checks, content rules, pending life cycle, outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from regreport.gateway import Gateway, ScriptedOutcome, advice_file_name
from regreport.gateway.status_advice import load_status_advice_schema

pytestmark = pytest.mark.unit

NS = {"a": "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"}


def upload(gw: Gateway, name: str, body: bytes, firm: str = "FIRM1") -> list[str]:
    (gw.config.firm_dir(firm) / "inbox" / name).write_bytes(body)
    return gw.process_upload(firm, name)


def advice(gw: Gateway, out_name: str, schemas_dir: Path, firm: str = "FIRM1") -> etree._Element:
    """Read an advice from the outbox, after checking it against the auth.031 envelope XSD."""
    tree = etree.parse(str(gw.config.firm_dir(firm) / "outbox" / out_name))
    schema = load_status_advice_schema(schemas_dir)
    assert schema.validate(tree), schema.error_log
    return tree.getroot()


def status(root: etree._Element) -> str:
    return root.findtext(".//a:MsgSts/a:Sts", namespaces=NS)


def records(root: etree._Element) -> dict[str, tuple[str, list[str]]]:
    return {
        r.findtext("a:OrgnlRcrdId", namespaces=NS): (
            r.findtext("a:Sts", namespaces=NS),
            [v.findtext("a:Id", namespaces=NS) for v in r.findall("a:VldtnRule", NS)],
        )
        for r in root.iterfind(".//a:RcrdSts", NS)
    }


def stats(root: etree._Element) -> dict[str, str]:
    found = {
        n.findtext("a:DtldSts", namespaces=NS): n.findtext("a:DtldNbOfRcrds", namespaces=NS)
        for n in root.iterfind(".//a:NbOfRcrdsPerSts", NS)
    }
    found["total"] = root.findtext(".//a:TtlNbOfRcrds", namespaces=NS)
    return found


def test_valid_file_is_accepted(gateway: Gateway, schemas_dir: Path, kit) -> None:
    name = kit.file_name()
    written = upload(
        gateway, name, kit.submission([("TX1", kit.KNOWN_ISIN), ("TX2", kit.KNOWN_ISIN)])
    )
    assert written == [advice_file_name(name)] == [name.removesuffix(".xml") + "_FDBK_001.xml"]
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "ACPT"
    assert root.findtext(".//a:MsgRptIdr", namespaces=NS) == "MIFIR_RTS22-20261126-S001-P01"
    assert records(root) == {}
    assert stats(root) == {"ACPT": "2", "total": "2"}


def test_golden_file_as_is_is_accepted(gateway: Gateway, schemas_dir: Path, kit) -> None:
    golden = Path(__file__).resolve().parents[1] / "xml" / "golden"
    written = upload(gateway, kit.file_name(), (golden / "13_bond.xml").read_bytes())
    # The bond's ISIN is not in the reference list: pending, not rejected.
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "PART"
    assert [s for s, _ in records(root).values()] == ["PDNG"]


def test_a_file_is_processed_once(gateway: Gateway, kit) -> None:
    name = kit.file_name()
    assert upload(gateway, name, kit.submission([("TX1", kit.KNOWN_ISIN)]))
    assert gateway.process_upload("FIRM1", name) == []
    assert gateway.scan_inboxes() == []
    assert sorted(p.name for p in (gateway.config.firm_dir("FIRM1") / "outbox").iterdir()) == [
        advice_file_name(name)
    ]


def test_unknown_isin_is_pending_then_rejected(
    gateway: Gateway, clock, schemas_dir: Path, kit
) -> None:
    name = kit.file_name()
    written = upload(
        gateway, name, kit.submission([("TX1", kit.KNOWN_ISIN), ("TX2", kit.UNKNOWN_ISIN)])
    )
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "PART"
    assert records(root) == {"TX2": ("PDNG", ["CON-411"])}
    assert stats(root) == {"ACPT": "1", "PDNG": "1", "total": "2"}

    clock.advance(days=1)
    assert gateway.recheck_pending() == []  # first re-check: still pending, nothing new
    clock.advance(days=1)
    written = gateway.recheck_pending()  # pending_max_checks=2: now rejected
    assert written == [advice_file_name(name, 2)]
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "PART"
    assert records(root) == {"TX2": ("RJCT", ["CON-412"])}
    assert stats(root) == {"ACPT": "1", "RJCT": "1", "total": "2"}
    assert gateway.recheck_pending() == []


def test_pending_becomes_accepted_when_the_instrument_appears(
    gateway: Gateway, schemas_dir: Path, kit
) -> None:
    written = upload(gateway, kit.file_name(), kit.submission([("TX9", kit.UNKNOWN_ISIN)]))
    assert status(advice(gateway, written[0], schemas_dir)) == "PART"
    with gateway.config.instruments_file.open("a") as fh:  # type: ignore[union-attr]
        fh.write(f"{kit.UNKNOWN_ISIN}\n")
    written = gateway.recheck_pending()
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "ACPT"
    # The follow-up names the record it now accepts, so nobody has to infer it.
    assert records(root) == {"TX9": ("ACPT", [])}


def test_pending_is_rejected_after_max_days(make_config, clock, schemas_dir, kit) -> None:
    gw = Gateway(make_config(pending_max_checks=100, recheck_interval_seconds=3600), clock=clock)
    upload(gw, kit.file_name(), kit.submission([("TX1", kit.UNKNOWN_ISIN)]))
    clock.advance(minutes=30)
    assert gw.tick() == []  # the re-check is not due yet
    clock.advance(days=7)
    written = gw.tick()
    root = advice(gw, written[0], schemas_dir)
    assert status(root) == "RJCT"
    assert records(root) == {"TX1": ("RJCT", ["CON-412"])}


def test_duplicate_txid_is_rejected_and_cancel_frees_it(
    gateway: Gateway, schemas_dir: Path, kit
) -> None:
    upload(gateway, kit.file_name(1), kit.submission([("TX1", kit.KNOWN_ISIN)]))
    # Same TxId again, in a second file and twice within it.
    written = upload(
        gateway,
        kit.file_name(2),
        kit.submission([("TX1", kit.KNOWN_ISIN), ("TX2", kit.KNOWN_ISIN), ("TX2", kit.KNOWN_ISIN)]),
    )
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "PART"
    assert records(root) == {"TX1": ("RJCT", ["CON-023"])} | {"TX2": ("RJCT", ["CON-023"])}
    assert stats(root) == {"ACPT": "1", "RJCT": "2", "total": "3"}
    # A cancellation frees TX1: the next New with TX1 is accepted.
    written = upload(gateway, kit.file_name(3), kit.submission([], cancels=("TX1",)))
    assert status(advice(gateway, written[0], schemas_dir)) == "ACPT"
    written = upload(gateway, kit.file_name(4), kit.submission([("TX1", kit.KNOWN_ISIN)]))
    assert status(advice(gateway, written[0], schemas_dir)) == "ACPT"


def test_cancel_of_unknown_txid_is_rejected(gateway: Gateway, schemas_dir: Path, kit) -> None:
    written = upload(gateway, kit.file_name(), kit.submission([], cancels=("NOPE",)))
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "RJCT"
    assert records(root) == {"NOPE": ("RJCT", ["CON-024"])}


def test_rejected_pending_record_frees_its_txid(gateway: Gateway, schemas_dir: Path, kit) -> None:
    upload(gateway, kit.file_name(1), kit.submission([("TX1", kit.UNKNOWN_ISIN)]))
    gateway.recheck_pending()
    gateway.recheck_pending()
    written = upload(gateway, kit.file_name(2), kit.submission([("TX1", kit.KNOWN_ISIN)]))
    assert status(advice(gateway, written[0], schemas_dir)) == "ACPT"


def test_corrupt_file_is_crpt(gateway: Gateway, schemas_dir: Path, kit) -> None:
    body = kit.submission([("TX1", kit.KNOWN_ISIN)])[:-200]
    written = upload(gateway, kit.file_name(), body)
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "CRPT"
    assert root.find(".//a:MsgRptIdr", NS) is None
    assert root.findtext(".//a:MsgSts/a:VldtnRule/a:Id", namespaces=NS) == "FIL-102"


def test_binary_garbage_is_crpt(gateway: Gateway, schemas_dir: Path, kit) -> None:
    written = upload(gateway, kit.file_name(), b"PK\x03\x04\x00\xff binary")
    assert status(advice(gateway, written[0], schemas_dir)) == "CRPT"


def test_entities_are_not_expanded(
    gateway: Gateway, tmp_path: Path, schemas_dir: Path, kit
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (
        kit.submission([("TX1", kit.KNOWN_ISIN)])
        .replace(
            b"<BizData",
            f'<!DOCTYPE x [<!ENTITY e SYSTEM "{secret.as_uri()}">]>\n<BizData'.encode(),
            1,
        )
        .replace(b"<TxId>TX1</TxId>", b"<TxId>&e;</TxId>")
    )
    written = upload(gateway, kit.file_name(), body)
    out = (gateway.config.firm_dir("FIRM1") / "outbox" / written[0]).read_bytes()
    assert b"TOPSECRET" not in out
    assert status(advice(gateway, written[0], schemas_dir)) in {"RJCT", "CRPT"}


def test_wrong_name_is_incf(gateway: Gateway, schemas_dir: Path, kit) -> None:
    written = upload(gateway, "report.xml", kit.submission([("TX1", kit.KNOWN_ISIN)]))
    assert written == ["report_FDBK_001.xml"]
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "INCF"
    assert root.find(".//a:Sttstcs", NS) is None


def test_schema_invalid_file_is_rejected(gateway: Gateway, schemas_dir: Path, kit) -> None:
    body = kit.submission([("TX1", kit.KNOWN_ISIN)]).replace(
        b"<TradgCpcty>AOTC", b"<TradgCpcty>XXXX"
    )
    written = upload(gateway, kit.file_name(), body)
    root = advice(gateway, written[0], schemas_dir)
    assert status(root) == "RJCT"
    rule = root.find(".//a:MsgSts/a:VldtnRule", NS)
    assert rule.findtext("a:Id", namespaces=NS) == "FIL-105"
    assert "TradgCpcty" in rule.findtext("a:Desc", namespaces=NS)
    # Nothing of the rejected file holds a TxId.
    written = upload(gateway, kit.file_name(2), kit.submission([("TX1", kit.KNOWN_ISIN)]))
    assert status(advice(gateway, written[0], schemas_dir)) == "ACPT"


def test_temp_names_are_ignored(gateway: Gateway, kit) -> None:
    for name in (".upload.xml", kit.file_name() + ".part", "x.tmp"):
        assert upload(gateway, name, kit.submission([("TX1", kit.KNOWN_ISIN)])) == []
    assert gateway.scan_inboxes() == []


def test_scripted_outcomes(make_config, clock, schemas_dir: Path, kit) -> None:
    outcomes = (
        ScriptedOutcome(tx_id="TXR", record_status="RJCT", rule_id="CON-999", rule_desc="No"),
        ScriptedOutcome(file_name="*_S007_*", file_status="CRPT"),
        ScriptedOutcome(file_name="*_S008_*", delay_seconds=600),
    )
    gw = Gateway(make_config(outcomes=outcomes), clock=clock)
    written = upload(
        gw, kit.file_name(1), kit.submission([("TXR", kit.KNOWN_ISIN), ("TXA", kit.KNOWN_ISIN)])
    )
    root = advice(gw, written[0], schemas_dir)
    assert status(root) == "PART"
    assert records(root) == {"TXR": ("RJCT", ["CON-999"])}

    written = upload(gw, kit.file_name(7), kit.submission([("TXB", kit.KNOWN_ISIN)]))
    assert status(advice(gw, written[0], schemas_dir)) == "CRPT"

    assert upload(gw, kit.file_name(8), kit.submission([("TXC", kit.KNOWN_ISIN)])) == []
    assert gw.tick() == []
    clock.advance(seconds=601)
    written = gw.tick()
    assert written == [advice_file_name(kit.file_name(8))]
    assert status(advice(gw, written[0], schemas_dir)) == "ACPT"


def test_state_survives_a_restart(make_config, clock, schemas_dir: Path, kit) -> None:
    upload(
        Gateway(make_config(), clock=clock),
        kit.file_name(1),
        kit.submission([("TX1", kit.KNOWN_ISIN)]),
    )
    gw = Gateway(make_config(), clock=clock)
    written = upload(gw, kit.file_name(2), kit.submission([("TX1", kit.KNOWN_ISIN)]))
    assert records(advice(gw, written[0], schemas_dir)) == {"TX1": ("RJCT", ["CON-023"])}


def test_feedback_is_deterministic(make_config, clock, tmp_path: Path, kit) -> None:
    body = kit.submission([("TX1", kit.UNKNOWN_ISIN)])
    gw = Gateway(make_config(), clock=clock)
    first = gw.config.firm_dir("FIRM1") / "outbox" / upload(gw, kit.file_name(), body)[0]
    data = first.read_bytes()
    # A fresh gateway (new root) answering the same file at the same time writes the same bytes.
    (tmp_path / "gw").rename(tmp_path / "gw-old")
    gw2 = Gateway(make_config(), clock=clock)
    again = gw2.config.firm_dir("FIRM1") / "outbox" / upload(gw2, kit.file_name(), body)[0]
    assert again.read_bytes() == data


def test_advice_file_names() -> None:
    assert advice_file_name("A_B.xml", 3) == "A_B_FDBK_003.xml"
    odd = advice_file_name("../we ird.xml")
    assert odd.endswith("_FDBK_001.xml")
    assert "/" not in odd
    assert not odd.startswith(".")
