"""Read the regulator's feedback on submitted files: ISO 20022 auth.031 status advice.

An NCA answers every transaction report file with a `FinInstrmRptgStsAdvc`: one `StsAdvc`
per file it refers to, with the file's status (ACPT, PART, RJCT, CRPT, INCF, ...), the
file-level rules that failed, optional statistics, and a `RcrdSts` for each record it has
something to say about (RJCT or PDNG as a rule; "unmentioned means accepted", see
`regreport.submissions`). Structure and codes: ESMA usage guideline
auth.031.001.01_ESMAUG_Reporting_1.1.0 (/work/shared/domain/REGULATORY.md, E2).

**Hardening.** Feedback arrives from outside (an SFTP outbox), so it is parsed as hostile
input. A status advice never needs a DTD, so any `DOCTYPE` is refused outright before the
parser sees the file: that stops external entities (XXE: reading local files or making
network requests) and entity expansion ("billion laughs") at the cheapest point. The parser
itself is also locked down (no entity substitution, no DTD loading, no network, no huge
trees), and a document that still carries a DTD after parsing is refused, so a prolog the
pre-check misread cannot get through either. Only UTF-8 (or its ASCII subset) is accepted,
which is what ESMA's file formats prescribe and what keeps the byte-level pre-check sound.

lxml is imported inside functions (ruff TID253): this module is imported by DAG files.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regreport.xml.namespaces import DEFAULT_SCHEMA_VERSION, NS_HEAD001, NS_HEAD003, SCHEMA_SETS

if TYPE_CHECKING:
    from lxml import etree

#: Namespace of the status advice (usage guideline 1.1.0, production).
NS_AUTH031 = "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"
#: The same message in the 2017 draft namespace (usage guideline 1.0.2), still sent by some NCAs.
NS_AUTH031_DRAFT5 = "urn:iso:std:iso:20022:tech:xsd:DRAFT5auth.031.001.01"
_XS = "http://www.w3.org/2001/XMLSchema"

#: XSD file per payload namespace; the envelope and header files are the same for both.
SCHEMA_FILES: dict[str, str] = {
    NS_AUTH031: "auth.031.001.01_ESMAUG_Reporting_1.1.0.xsd",
    NS_AUTH031_DRAFT5: "DRAFT5auth.031.001.01_ESMAUG_Reporting_1.0.2.xsd",
}
_ENVELOPE_FILES = {
    NS_HEAD003: SCHEMA_SETS[DEFAULT_SCHEMA_VERSION].head003,
    NS_HEAD001: SCHEMA_SETS[DEFAULT_SCHEMA_VERSION].head001,
}

#: File (message) level statuses, `ReportingMessageStatus1Code`.
MESSAGE_STATUSES = frozenset({"ACPT", "PART", "RCVD", "RJCT", "RMDR", "WARN", "INCF", "CRPT"})
#: Record level statuses, `ReportingRecordStatus1Code`.
RECORD_STATUSES = frozenset({"ACPT", "PDNG", "RCVD", "RJCT"})

#: Largest feedback file read. One RcrdSts with a rule is about 300 bytes, so this is room for
#: a rejection of every record of a 500,000-record file, and a bound on memory for anything else.
MAX_FEEDBACK_BYTES = 256 * 1024 * 1024

_XML_DECL = re.compile(rb"<\?xml\s[^?>]*\?>")
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF8_NAMES = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}
_QUOTED_VALUE = re.compile(r"value '[^']*'")


class FeedbackError(ValueError):
    """A feedback file was refused: unsafe, not well-formed, or not an auth.031 status advice.

    Messages name the problem and, where known, the line; they never quote values from the
    file (which could carry anything), only element names and codes.
    """


@dataclass(frozen=True)
class ValidationRule:
    """A rule the regulator applied (`VldtnRule`): e.g. CON-023 with its description."""

    id: str
    description: str
    scheme: str | None = None
    issuer: str | None = None


@dataclass(frozen=True)
class RecordStatus:
    """The status of one record (`RcrdSts`); `record_id` is the record's TxId."""

    record_id: str
    status: str
    rules: tuple[ValidationRule, ...] = ()


@dataclass(frozen=True)
class Statistics:
    """`Sttstcs`: the total number of records and the count per record status."""

    total_records: int
    per_status: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class StatusAdvice:
    """One `StsAdvc`: the regulator's verdict on one submitted file.

    Attributes:
        index: 0-based position of this `StsAdvc` in its feedback file.
        message_report_id: `MsgRptIdr`, the `BizMsgIdr` of the file it refers to, if given.
        status: File-level status, one of `MESSAGE_STATUSES`.
        rules: File-level rules (e.g. FIL-xxx reasons for a rejection).
        statistics: `Sttstcs`, if given.
        records: `RcrdSts` in file order.
        business_message_id: `BizMsgIdr` of the feedback itself (head.003 envelope only).
        related_message_id: `AppHdr/Rltd/BizMsgIdr` of the feedback (envelope only): the file
            it answers when `MsgRptIdr` is left out (the usage guideline allows that when the
            advice has a single `StsAdvc`).
        source_sha256: SHA-256 of the whole feedback file; identifies it for idempotency.
        source_name: The feedback file's name when parsed from a path, else None.
    """

    index: int
    message_report_id: str | None
    status: str
    rules: tuple[ValidationRule, ...]
    statistics: Statistics | None
    records: tuple[RecordStatus, ...]
    business_message_id: str | None
    related_message_id: str | None
    source_sha256: str
    source_name: str | None = None

    @property
    def original_message_id(self) -> str | None:
        """The `BizMsgIdr` of the submitted file this advice is about, if the feedback says."""
        return self.message_report_id or self.related_message_id


def _read(source: Path | str | bytes, max_bytes: int) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = None
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no such feedback file: {path}")
        if path.stat().st_size > max_bytes:
            raise FeedbackError(f"feedback file {path.name} is larger than {max_bytes} bytes")
        data = path.read_bytes()
        name = path.name
    if len(data) > max_bytes:
        raise FeedbackError(f"feedback is larger than {max_bytes} bytes")
    return data, name


def _skip_declaration(data: bytes) -> int:
    """Refuse anything but UTF-8; return the offset after the BOM and XML declaration."""
    if data.startswith((b"\xfe\xff", b"\xff\xfe")) or b"\x00" in data[:4]:
        raise FeedbackError("feedback must be UTF-8 encoded (UTF-16/32 is refused)")
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    decl = _XML_DECL.match(data, pos)
    if decl is not None:
        enc = _DECL_ENCODING.search(decl.group())
        if enc is not None and enc.group(1).lower() not in _UTF8_NAMES:
            raise FeedbackError("feedback must be UTF-8 encoded (declared encoding refused)")
        pos = decl.end()
    return pos


def _check_prolog(data: bytes) -> None:
    """Refuse non-UTF-8 input and any DOCTYPE, by reading the prolog as bytes.

    The prolog is the XML declaration, then comments, processing instructions and white
    space up to the root start tag. In UTF-8 every markup character is one ASCII byte, so
    scanning bytes is exact. A DOCTYPE can only occur there.
    """
    pos = _skip_declaration(data)
    size = len(data)
    while pos < size:
        if data[pos : pos + 1].isspace():
            pos += 1
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            if end < 0:
                raise FeedbackError("feedback is not well-formed XML: unterminated comment")
            pos = end + 3
        elif data.startswith(b"<?", pos):
            end = data.find(b"?>", pos + 2)
            if end < 0:
                raise FeedbackError("feedback is not well-formed XML: unterminated instruction")
            pos = end + 2
        elif data.startswith(b"<!", pos):
            # <!DOCTYPE, or anything else that is not a comment: never needed, never allowed.
            raise FeedbackError(
                "feedback has a DOCTYPE (document type declaration); refused: a status advice "
                "needs none, and a DTD can pull in external entities or expand without bound"
            )
        else:
            return


def _parser() -> etree.XMLParser:
    """The hardened parser: nothing outside the bytes given is ever read."""
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_pis=True,
    )


def _parse(data: bytes) -> etree._Element:
    """Parse with the hardened parser; refuse a document that still carries a DTD.

    Defense in depth behind `_check_prolog`: even if a DOCTYPE got past the byte scan, the
    parser neither substitutes nor fetches entities, and the result is refused here.
    """
    from lxml import etree

    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = f" at line {exc.lineno}" if exc.lineno else ""
        raise FeedbackError(f"feedback is not well-formed XML{line}: {exc.msg}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise FeedbackError("feedback has a DOCTYPE (document type declaration); refused")
    if any(True for _ in root.iter(etree.Entity)):
        raise FeedbackError("feedback has entity references; refused")
    return root


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _ns(tag: object) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _children(elem: etree._Element, name: str) -> list[etree._Element]:
    ns = _ns(elem.tag)
    return [c for c in elem if isinstance(c.tag, str) and c.tag == f"{{{ns}}}{name}"]


def _where(elem: etree._Element) -> str:
    return f" (line {elem.sourceline})" if elem.sourceline else ""


def _child(elem: etree._Element, name: str, *, required: bool = True) -> etree._Element | None:
    found = _children(elem, name)
    if len(found) > 1:
        raise FeedbackError(f"{_local(elem.tag)} has {len(found)} {name} elements{_where(elem)}")
    if not found:
        if required:
            raise FeedbackError(f"{_local(elem.tag)} lacks {name}{_where(elem)}")
        return None
    return found[0]


def _text(elem: etree._Element, name: str, *, required: bool = True) -> str | None:
    child = _child(elem, name, required=required)
    if child is None:
        return None
    value = (child.text or "").strip()
    if not value and required:
        raise FeedbackError(f"{_local(elem.tag)}/{name} is empty{_where(child)}")
    return value or None


def _code(elem: etree._Element, allowed: frozenset[str]) -> str:
    value = _text(elem, "Sts")
    if value not in allowed:
        # The value itself is a code from a closed list, but could be anything in a broken
        # file; name the allowed set instead of echoing it.
        raise FeedbackError(
            f"{_local(elem.tag)}/Sts is not one of {', '.join(sorted(allowed))}{_where(elem)}"
        )
    return value


def _rules(elem: etree._Element) -> tuple[ValidationRule, ...]:
    rules = []
    for rule in _children(elem, "VldtnRule"):
        scheme_elem = _child(rule, "SchmeNm", required=False)
        scheme = None
        if scheme_elem is not None:
            scheme = _text(scheme_elem, "Cd", required=False) or _text(
                scheme_elem, "Prtry", required=False
            )
        rules.append(
            ValidationRule(
                id=str(_text(rule, "Id")),
                description=str(_text(rule, "Desc")),
                scheme=scheme,
                issuer=_text(rule, "Issr", required=False),
            )
        )
    return tuple(rules)


def _count(elem: etree._Element, name: str) -> int:
    value = str(_text(elem, name))
    if not value.isascii() or not value.isdigit() or len(value) > 15:
        raise FeedbackError(f"{_local(elem.tag)}/{name} is not a count{_where(elem)}")
    return int(value)


def _statistics(msg_sts: etree._Element) -> Statistics | None:
    stats = _child(msg_sts, "Sttstcs", required=False)
    if stats is None:
        return None
    per_status = []
    for item in _children(stats, "NbOfRcrdsPerSts"):
        status = _text(item, "DtldSts")
        if status not in RECORD_STATUSES:
            raise FeedbackError(f"NbOfRcrdsPerSts/DtldSts is not a record status{_where(item)}")
        per_status.append((status, _count(item, "DtldNbOfRcrds")))
    return Statistics(_count(stats, "TtlNbOfRcrds"), tuple(per_status))


def _locate_document(
    root: etree._Element,
) -> tuple[etree._Element, str | None, str | None]:
    """The auth.031 `Document`, and the feedback's own and related BizMsgIdr (envelope only)."""
    if root.tag == f"{{{NS_HEAD003}}}BizData":
        biz_id = related = None
        hdr = _child(root, "Hdr")
        app_hdr = next((c for c in hdr if c.tag == f"{{{NS_HEAD001}}}AppHdr"), None)
        if app_hdr is not None:
            biz_id = _text(app_hdr, "BizMsgIdr", required=False)
            rltd = _child(app_hdr, "Rltd", required=False)
            if rltd is not None:
                related = _text(rltd, "BizMsgIdr", required=False)
        pyld = _child(root, "Pyld")
        docs = [c for c in pyld if isinstance(c.tag, str)]
        if len(docs) != 1:
            raise FeedbackError("BizData/Pyld must hold exactly one Document")
        return docs[0], biz_id, related
    return root, None, None


def _check_document(doc: etree._Element) -> None:
    if _local(doc.tag) != "Document" or _ns(doc.tag) not in SCHEMA_FILES:
        raise FeedbackError(
            f"not an auth.031 status advice: the root is {_local(doc.tag) or 'not an element'} "
            f"in namespace {_ns(doc.tag) or '(none)'}; expected Document in {NS_AUTH031} "
            "(bare or inside a head.003 BizData envelope)"
        )


def _driver_xsd(schemas_dir: Path, payload_ns: str) -> bytes:
    files = {**_ENVELOPE_FILES, payload_ns: SCHEMA_FILES[payload_ns]}
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(schemas_dir / name).as_uri()}"/>'
        for ns, name in files.items()
    )
    return f'<xs:schema xmlns:xs="{_XS}">{imports}</xs:schema>'.encode()


@functools.lru_cache(maxsize=4)
def _schema_cached(schemas_dir: Path, payload_ns: str) -> etree.XMLSchema:
    from lxml import etree

    files = [*_ENVELOPE_FILES.values(), SCHEMA_FILES[payload_ns]]
    missing = [name for name in files if not (schemas_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"ESMA schemas folder {schemas_dir} lacks {', '.join(missing)}; set "
            "REGREPORT_SCHEMAS_DIR to the folder of ESMA's MiFIR reporting .xsd files"
        )
    # xs:import by file URI: libxml2 reads local files only; the driver and the ESMA files
    # have no DOCTYPE, and no_network keeps any http schemaLocation from being fetched.
    driver = etree.fromstring(_driver_xsd(schemas_dir, payload_ns), _parser())
    return etree.XMLSchema(driver)


def load_schema(schemas_dir: Path, payload_ns: str = NS_AUTH031) -> etree.XMLSchema:
    """Compile head.003 + head.001 + auth.031 into one validator (cached per folder).

    `regreport.xml.schema.load_schema` compiles the auth.016 set only; a status advice needs
    the auth.031 file instead, and both accept `BizData` or a bare `Document` as root.

    Raises:
        FileNotFoundError: A schema file is missing from `schemas_dir`.
        KeyError: Unknown payload namespace.
    """
    return _schema_cached(schemas_dir.expanduser().resolve(), payload_ns)


def _validate(root: etree._Element, doc: etree._Element, schemas_dir: Path) -> None:
    schema = load_schema(schemas_dir, _ns(doc.tag))
    if schema.validate(root):
        return
    errors = [
        f"line {e.line}: {_QUOTED_VALUE.sub('value (not shown)', e.message)}"
        for e in list(schema.error_log)[:5]
    ]
    raise FeedbackError("feedback is not valid against the auth.031 XSD: " + "; ".join(errors))


def parse_status_advice(
    source: Path | str | bytes,
    *,
    schemas_dir: Path | None = None,
    max_bytes: int = MAX_FEEDBACK_BYTES,
) -> list[StatusAdvice]:
    """Parse an auth.031 feedback file safely into one `StatusAdvice` per `StsAdvc`.

    Args:
        source: A path to the file, or its bytes.
        schemas_dir: If given, also validate against the ESMA XSDs in this folder
            (`Settings.schemas_dir`). Structure and codes are checked either way.
        max_bytes: Refuse larger input without parsing it.

    Returns:
        The advices in file order.

    Raises:
        FeedbackError: The input is unsafe (DOCTYPE, entities, not UTF-8), not well-formed,
            not a status advice, or (with `schemas_dir`) not valid.
        FileNotFoundError: `source` is a path that does not exist, or a schema is missing.
    """
    data, name = _read(source, max_bytes)
    _check_prolog(data)
    root = _parse(data)
    doc, biz_id, related = _locate_document(root)
    _check_document(doc)
    if schemas_dir is not None:
        _validate(root, doc, schemas_dir)
    advc_root = _child(doc, "FinInstrmRptgStsAdvc")
    advices = _children(advc_root, "StsAdvc")
    if not advices:
        raise FeedbackError("FinInstrmRptgStsAdvc holds no StsAdvc")
    sha = hashlib.sha256(data).hexdigest()
    result = []
    for index, advc in enumerate(advices):
        msg_sts = _child(advc, "MsgSts")
        records = tuple(
            RecordStatus(
                record_id=str(_text(rec, "OrgnlRcrdId")),
                status=_code(rec, RECORD_STATUSES),
                rules=_rules(rec),
            )
            for rec in _children(advc, "RcrdSts")
        )
        result.append(
            StatusAdvice(
                index=index,
                message_report_id=_text(advc, "MsgRptIdr", required=False),
                status=_code(msg_sts, MESSAGE_STATUSES),
                rules=_rules(msg_sts),
                statistics=_statistics(msg_sts),
                records=records,
                business_message_id=biz_id,
                related_message_id=related,
                source_sha256=sha,
                source_name=name,
            )
        )
    return result


def advice_to_json(advice: StatusAdvice) -> dict[str, Any]:
    """A JSON-ready view of an advice (for logs of ids and codes, and for XCom)."""
    return {
        "index": advice.index,
        "message_report_id": advice.message_report_id,
        "related_message_id": advice.related_message_id,
        "status": advice.status,
        "rules": [r.id for r in advice.rules],
        "records": len(advice.records),
        "source_sha256": advice.source_sha256,
    }
