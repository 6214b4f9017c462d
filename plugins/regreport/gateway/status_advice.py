"""Write auth.031 status advice (the NCA's feedback file), as the gateway simulator sends it.

Structure (auth.031.001.01 ESMA usage guideline "Reporting" 1.1.0, REGULATORY.md E2):
`Document/FinInstrmRptgStsAdvc/StsAdvc` with `MsgRptIdr` (the submitted file's `BizMsgIdr`),
`MsgSts` (file status, file-level `VldtnRule`s, `Sttstcs` per record status) and one `RcrdSts`
per record that is not accepted (`OrgnlRcrdId` = TxId, `Sts`, `VldtnRule{Id, Desc}`): feedback
lists exceptions only, so an unmentioned record is accepted.

The `Document` travels in the same head.003 `BizData` envelope as a submission, with an
`AppHdr` from the NCA to the firm whose `MsgDefIdr` is auth.031.001.01. head.003's payload is
`xs:any processContents="strict"`, so validating the envelope needs head.003, head.001 and
auth.031 loaded together: `load_status_advice_schema` is the feedback parser's loader
(`regreport.feedback.load_schema`), so the simulator and the firm validate with one schema set.

Output is deterministic: same advice, same bytes (UTF-8, declaration, fixed order, indent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from regreport.xml.namespaces import NS_HEAD001, NS_HEAD003

if TYPE_CHECKING:
    from pathlib import Path

    from lxml import etree

#: auth.031 namespace (usage guideline 1.1.0, no DRAFT prefix).
NS_AUTH031 = "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"
MSG_DEF_IDR_AUTH031 = "auth.031.001.01"

_MAX35 = 35
_MAX140 = 140
_MAX350 = 350
#: Record statuses in the order `Sttstcs` lists them.
_RECORD_STATUS_ORDER = ("ACPT", "PDNG", "RCVD", "RJCT")


@dataclass(frozen=True)
class Rule:
    """A validation rule hit: `VldtnRule{Id, Desc}`."""

    id: str
    desc: str


@dataclass(frozen=True)
class RecordStatus:
    """One `RcrdSts`: a record (by TxId) that is pending or rejected."""

    tx_id: str
    status: str
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class StatusAdvice:
    """One feedback message about one submitted file.

    Attributes:
        status: File status: ACPT, PART, RJCT, CRPT, INCF, ...
        msg_report_id: `BizMsgIdr` of the submitted file; None when it could not be read
            (CRPT, INCF), in which case the outbox file name alone ties the answer to the file.
        rules: File-level rules (why a file is CRPT, INCF or RJCT).
        total: Number of records in the file; None omits `Sttstcs` (file not read).
        counts: Records per record status (ACPT, PDNG, RJCT...).
        records: The non-accepted records.
    """

    status: str
    msg_report_id: str | None = None
    rules: tuple[Rule, ...] = ()
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    records: tuple[RecordStatus, ...] = ()


@dataclass(frozen=True)
class AdviceHeader:
    """`AppHdr` of the feedback: from the NCA to the firm.

    Attributes:
        nca_country: Sender (`Fr`, scheme "NCA").
        recipient: The firm (`To`): its LEI when known, else the firm folder name.
        business_message_id: `BizMsgIdr` of the feedback itself (Max35Text).
        created_at: `CreDt`, timezone-aware.
    """

    nca_country: str
    recipient: str
    business_message_id: str
    created_at: datetime


def _clip(text: str, limit: int) -> str:
    """Fit a text to a MaxNText type; ISO 20022 counts characters, not bytes."""
    text = " ".join(text.split()) or "-"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cre_dt(value: datetime) -> str:
    # head.001's ISONormalisedDateTime wants UTC with "Z".
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _party(parent: etree._Element, tag: str, ident: str, scheme: str) -> None:
    from lxml import etree

    ns = f"{{{NS_HEAD001}}}"
    node = etree.SubElement(parent, ns + tag)
    for child in ("OrgId", "Id", "OrgId", "Othr"):
        node = etree.SubElement(node, ns + child)
    etree.SubElement(node, ns + "Id").text = _clip(ident, _MAX35)
    etree.SubElement(etree.SubElement(node, ns + "SchmeNm"), ns + "Prtry").text = scheme


def _rules(parent: etree._Element, rules: tuple[Rule, ...]) -> None:
    from lxml import etree

    ns = f"{{{NS_AUTH031}}}"
    for rule in rules:
        node = etree.SubElement(parent, ns + "VldtnRule")
        etree.SubElement(node, ns + "Id").text = _clip(rule.id, _MAX35)
        etree.SubElement(node, ns + "Desc").text = _clip(rule.desc, _MAX350)


def build_document(advice: StatusAdvice) -> etree._Element:
    """The auth.031 `Document` element for one advice."""
    from lxml import etree

    ns = f"{{{NS_AUTH031}}}"
    doc = etree.Element(ns + "Document", nsmap={None: NS_AUTH031})
    sts_advc = etree.SubElement(etree.SubElement(doc, ns + "FinInstrmRptgStsAdvc"), ns + "StsAdvc")
    if advice.msg_report_id:
        etree.SubElement(sts_advc, ns + "MsgRptIdr").text = _clip(advice.msg_report_id, _MAX35)
    msg_sts = etree.SubElement(sts_advc, ns + "MsgSts")
    etree.SubElement(msg_sts, ns + "Sts").text = advice.status
    _rules(msg_sts, advice.rules)
    per_status = [(s, advice.counts.get(s, 0)) for s in _RECORD_STATUS_ORDER]
    per_status = [(s, n) for s, n in per_status if n > 0]
    # Sttstcs needs at least one NbOfRcrdsPerSts, so a file with no records has none.
    if advice.total is not None and per_status:
        stats = etree.SubElement(msg_sts, ns + "Sttstcs")
        etree.SubElement(stats, ns + "TtlNbOfRcrds").text = str(advice.total)
        for status, count in per_status:
            node = etree.SubElement(stats, ns + "NbOfRcrdsPerSts")
            etree.SubElement(node, ns + "DtldNbOfRcrds").text = str(count)
            etree.SubElement(node, ns + "DtldSts").text = status
    for record in advice.records:
        node = etree.SubElement(sts_advc, ns + "RcrdSts")
        etree.SubElement(node, ns + "OrgnlRcrdId").text = _clip(record.tx_id, _MAX140)
        etree.SubElement(node, ns + "Sts").text = record.status
        _rules(node, record.rules)
    return doc


def render_status_advice(advice: StatusAdvice, header: AdviceHeader) -> bytes:
    """Serialise one advice in its head.003 envelope.

    Args:
        advice: What to report.
        header: Who answers whom, and when.

    Returns:
        The file's bytes (UTF-8 with an XML declaration, indented, ending in a newline).
    """
    from lxml import etree

    head = f"{{{NS_HEAD003}}}"
    ns1 = f"{{{NS_HEAD001}}}"
    biz = etree.Element(head + "BizData", nsmap={None: NS_HEAD003})
    app_hdr = etree.SubElement(
        etree.SubElement(biz, head + "Hdr"), ns1 + "AppHdr", nsmap={None: NS_HEAD001}
    )
    _party(app_hdr, "Fr", header.nca_country, "NCA")
    _party(app_hdr, "To", header.recipient, "LEI" if len(header.recipient) == 20 else "FIRM")
    etree.SubElement(app_hdr, ns1 + "BizMsgIdr").text = _clip(header.business_message_id, _MAX35)
    etree.SubElement(app_hdr, ns1 + "MsgDefIdr").text = MSG_DEF_IDR_AUTH031
    etree.SubElement(app_hdr, ns1 + "CreDt").text = _cre_dt(header.created_at)
    etree.SubElement(biz, head + "Pyld").append(build_document(advice))
    etree.indent(biz, space="  ")
    # The declaration by hand, as the submission writer does: lxml's uses single quotes.
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(biz, encoding="UTF-8") + b"\n"
    )


def load_status_advice_schema(schemas_dir: Path) -> etree.XMLSchema:
    """Compile head.003 + head.001 + auth.031 into one validator (cached per folder).

    Either the `BizData` envelope or a bare auth.031 `Document` can be the validation root.

    Args:
        schemas_dir: Folder of ESMA's .xsd files (`Settings.schemas_dir`).

    Returns:
        The compiled schema.

    Raises:
        FileNotFoundError: A schema file is missing (named in the message).
    """
    from regreport.feedback import load_schema

    return load_schema(schemas_dir)
