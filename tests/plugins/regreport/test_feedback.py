"""auth.031 feedback parsing: hand-written advices parse as expected; hostile input is refused."""

from __future__ import annotations

import hashlib
import http.server
import threading
from typing import TYPE_CHECKING

import pytest

from regreport import feedback
from regreport.config import Settings
from regreport.feedback import (
    FeedbackError,
    RecordStatus,
    Statistics,
    StatusAdvice,
    ValidationRule,
    parse_status_advice,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.unit

NS = "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"
SCHEMAS = Settings.from_env().schemas_dir
FILE_ID = "MIFIR_RTS22-20261126-S001-P01"


def _document(advices: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS}">'
        f"<FinInstrmRptgStsAdvc>{advices}</FinInstrmRptgStsAdvc></Document>"
    ).encode()


def _party(ident: str) -> str:
    return f"<OrgId><Id><OrgId><Othr><Id>{ident}</Id></Othr></OrgId></Id></OrgId>"


def _envelope(advices: str, related: str | None) -> bytes:
    """A head.003 envelope as an NCA sends it; the AppHdr may name the file it answers."""
    rltd = (
        f"<Rltd><Fr>{_party('529900T8BM49AURSDO55')}</Fr><To>{_party('FR')}</To>"
        f"<BizMsgIdr>{related}</BizMsgIdr><MsgDefIdr>auth.016.001.01</MsgDefIdr>"
        "<CreDt>2026-11-27T00:00:00Z</CreDt></Rltd>"
        if related
        else ""
    )
    doc = _document(advices).decode().split("\n", 1)[1]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<BizData xmlns="urn:iso:std:iso:20022:tech:xsd:head.003.001.01"><Hdr>'
        '<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.01">'
        f"<Fr>{_party('FR')}</Fr><To>{_party('529900T8BM49AURSDO55')}</To>"
        "<BizMsgIdr>FDB-20261127-0001</BizMsgIdr><MsgDefIdr>auth.031.001.01</MsgDefIdr>"
        f"<CreDt>2026-11-27T10:00:00Z</CreDt>{rltd}</AppHdr></Hdr>"
        f"<Pyld>{doc}</Pyld></BizData>"
    ).encode()


def _rule(rule_id: str, desc: str) -> str:
    return f"<VldtnRule><Id>{rule_id}</Id><Desc>{desc}</Desc></VldtnRule>"


def _advice(status: str, *, ident: str | None = FILE_ID, inner: str = "", rec: str = "") -> str:
    msg_id = f"<MsgRptIdr>{ident}</MsgRptIdr>" if ident else ""
    return f"<StsAdvc>{msg_id}<MsgSts><Sts>{status}</Sts>{inner}</MsgSts>{rec}</StsAdvc>"


def _rec(tx_id: str, status: str, *rules: tuple[str, str]) -> str:
    body = "".join(_rule(i, d) for i, d in rules)
    return f"<RcrdSts><OrgnlRcrdId>{tx_id}</OrgnlRcrdId><Sts>{status}</Sts>{body}</RcrdSts>"


DUP = ("CON-023", "Transaction report with the same transaction reference number already sent")
PENDING = ("CON-411", "Pending instrument validation")
FIL = ("FIL-104", "The file structure does not correspond to the XML schema")
BADNAME = ("FIL-101", "The file name does not follow the naming convention")


def _expected(data: bytes, index: int = 0, **fields: object) -> StatusAdvice:
    base: dict[str, object] = {
        "index": index,
        "message_report_id": FILE_ID,
        "status": "ACPT",
        "rules": (),
        "statistics": None,
        "records": (),
        "business_message_id": None,
        "related_message_id": None,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_name": None,
    }
    return StatusAdvice(**{**base, **fields})  # type: ignore[arg-type]


# --- valid advices, one per file-level status -----------------------------------------------


def test_acpt_with_statistics_only() -> None:
    # 3 records, all accepted: TtlNbOfRcrds 3 and one NbOfRcrdsPerSts (3, ACPT).
    stats = (
        "<Sttstcs><TtlNbOfRcrds>3</TtlNbOfRcrds><NbOfRcrdsPerSts><DtldNbOfRcrds>3</DtldNbOfRcrds>"
        "<DtldSts>ACPT</DtldSts></NbOfRcrdsPerSts></Sttstcs>"
    )
    data = _document(_advice("ACPT", inner=stats))
    got = parse_status_advice(data, schemas_dir=SCHEMAS)
    assert got == [_expected(data, statistics=Statistics(3, (("ACPT", 3),)))]


def test_part_with_rejected_and_pending_records_in_an_envelope() -> None:
    # 4 records: QS2 rejected (CON-023), QS3 pending (CON-411), QS1 and QS4 unmentioned,
    # so 4 = 2 ACPT + 1 RJCT + 1 PDNG in the statistics.
    stats = (
        "<Sttstcs><TtlNbOfRcrds>4</TtlNbOfRcrds>"
        "<NbOfRcrdsPerSts><DtldNbOfRcrds>2</DtldNbOfRcrds><DtldSts>ACPT</DtldSts></NbOfRcrdsPerSts>"
        "<NbOfRcrdsPerSts><DtldNbOfRcrds>1</DtldNbOfRcrds><DtldSts>RJCT</DtldSts></NbOfRcrdsPerSts>"
        "<NbOfRcrdsPerSts><DtldNbOfRcrds>1</DtldNbOfRcrds><DtldSts>PDNG</DtldSts></NbOfRcrdsPerSts>"
        "</Sttstcs>"
    )
    records = _rec("QS2", "RJCT", DUP) + _rec("QS3", "PDNG", PENDING)
    # MsgRptIdr left out: the AppHdr's Rltd/BizMsgIdr names the file instead.
    data = _envelope(_advice("PART", ident=None, inner=stats, rec=records), related=FILE_ID)
    got = parse_status_advice(data, schemas_dir=SCHEMAS)
    assert got == [
        _expected(
            data,
            message_report_id=None,
            status="PART",
            statistics=Statistics(4, (("ACPT", 2), ("RJCT", 1), ("PDNG", 1))),
            records=(
                RecordStatus("QS2", "RJCT", (ValidationRule(*DUP),)),
                RecordStatus("QS3", "PDNG", (ValidationRule(*PENDING),)),
            ),
            business_message_id="FDB-20261127-0001",
            related_message_id=FILE_ID,
        )
    ]
    assert got[0].original_message_id == FILE_ID


def test_rjct_record_with_two_rules_and_scheme_and_issuer() -> None:
    rule = (
        "<VldtnRule><Id>CON-412</Id><Desc>Instrument not valid on transaction date</Desc>"
        "<SchmeNm><Prtry>ESMA</Prtry></SchmeNm><Issr>FR-AMF</Issr></VldtnRule>"
    )
    rec = f"<RcrdSts><OrgnlRcrdId>QS7</OrgnlRcrdId><Sts>RJCT</Sts>{_rule(*DUP)}{rule}</RcrdSts>"
    data = _document(_advice("RJCT", rec=rec))
    got = parse_status_advice(data, schemas_dir=SCHEMAS)
    assert got == [
        _expected(
            data,
            status="RJCT",
            records=(
                RecordStatus(
                    "QS7",
                    "RJCT",
                    (
                        ValidationRule(*DUP),
                        ValidationRule(
                            "CON-412", "Instrument not valid on transaction date", "ESMA", "FR-AMF"
                        ),
                    ),
                ),
            ),
        )
    ]


@pytest.mark.parametrize(("code", "rule"), [("CRPT", FIL), ("INCF", BADNAME)])
def test_file_level_rejections_keep_their_code_and_rule(code: str, rule: tuple[str, str]) -> None:
    data = _document(_advice(code, inner=_rule(*rule)))
    got = parse_status_advice(data, schemas_dir=SCHEMAS)
    assert got == [_expected(data, status=code, rules=(ValidationRule(*rule),))]


def test_several_advices_in_one_file_keep_their_order(tmp_path: Path) -> None:
    data = _document(_advice("ACPT", ident="F-1") + _advice("RJCT", ident="F-2"))
    path = tmp_path / "FDB_FR_0001.xml"
    path.write_bytes(data)
    got = parse_status_advice(path)
    assert [(a.index, a.message_report_id, a.status, a.source_name) for a in got] == [
        (0, "F-1", "ACPT", "FDB_FR_0001.xml"),
        (1, "F-2", "RJCT", "FDB_FR_0001.xml"),
    ]
    assert {a.source_sha256 for a in got} == {hashlib.sha256(data).hexdigest()}


# --- hostile and broken input ---------------------------------------------------------------


SECRET = "h8-top-secret-4e1f"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def _xxe(secret_file: Path) -> bytes:
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE Document [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>\n'
        f'<Document xmlns="{NS}"><FinInstrmRptgStsAdvc><StsAdvc><MsgRptIdr>&x;</MsgRptIdr>'
        "<MsgSts><Sts>ACPT</Sts></MsgSts></StsAdvc></FinInstrmRptgStsAdvc></Document>"
    ).encode()


def test_xxe_is_refused_without_leaking(secret_file: Path) -> None:
    with pytest.raises(FeedbackError, match="DOCTYPE") as info:
        parse_status_advice(_xxe(secret_file))
    assert SECRET not in str(info.value)


def test_xxe_is_not_resolved_by_the_parser_either(secret_file: Path) -> None:
    # Defense in depth: even past the prolog check, the parser keeps the entity unexpanded
    # and the document is refused because it carries a DTD.
    with pytest.raises(FeedbackError, match="DOCTYPE") as info:
        feedback._parse(_xxe(secret_file))
    assert SECRET not in str(info.value)
    from lxml import etree

    tree = etree.fromstring(_xxe(secret_file), feedback._parser())
    assert SECRET not in etree.tostring(tree).decode()


def _billion_laughs() -> bytes:
    # lol9 would expand to 10**9 "lol"s (3 GB).
    ents = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    ]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE Document [{"".join(ents)}]>\n'
        f'<Document xmlns="{NS}"><FinInstrmRptgStsAdvc><StsAdvc><MsgRptIdr>&lol9;</MsgRptIdr>'
        "<MsgSts><Sts>ACPT</Sts></MsgSts></StsAdvc></FinInstrmRptgStsAdvc></Document>"
    ).encode()


def test_billion_laughs_is_refused_before_parsing() -> None:
    with pytest.raises(FeedbackError, match="DOCTYPE"):
        parse_status_advice(_billion_laughs())


def test_billion_laughs_does_not_expand_in_the_parser() -> None:
    with pytest.raises(FeedbackError):
        feedback._parse(_billion_laughs())


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - shared on purpose: the test reads it

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        body = b'<!ENTITY x "fetched">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def dtd_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on a free port that records every request (none must arrive)."""
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"hits": hits})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE Document SYSTEM "{url}/evil.dtd">',
        '<!DOCTYPE Document [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>',
        '<!DOCTYPE Document [<!ENTITY x SYSTEM "{url}/x.txt">]>',
    ],
)
def test_network_dtd_is_refused_and_never_fetched(
    dtd_server: tuple[str, list[str]], doctype: str
) -> None:
    url, hits = dtd_server
    data = (
        f'<?xml version="1.0"?>\n{doctype.format(url=url)}\n<Document xmlns="{NS}">'
        "<FinInstrmRptgStsAdvc><StsAdvc><MsgSts><Sts>ACPT</Sts></MsgSts></StsAdvc>"
        "</FinInstrmRptgStsAdvc></Document>"
    ).encode()
    with pytest.raises(FeedbackError, match="DOCTYPE"):
        parse_status_advice(data)
    with pytest.raises(FeedbackError):
        feedback._parse(data)  # the parser alone fetches nothing either
    assert hits == []


def test_doctype_after_a_comment_is_refused() -> None:
    data = b'<?xml version="1.0"?><!-- <a> --><!DOCTYPE Document><Document/>'
    with pytest.raises(FeedbackError, match="DOCTYPE"):
        parse_status_advice(data)


def test_malformed_xml_names_the_line() -> None:
    data = _document(_advice("ACPT"))[:-20]  # cut off inside the closing tags
    with pytest.raises(FeedbackError, match=r"not well-formed XML at line \d+"):
        parse_status_advice(data)


@pytest.mark.parametrize(
    "data",
    [
        b"<Report/>",
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:auth.016.001.01"/>',
        _document("").replace(NS.encode(), b"urn:example:other"),
    ],
)
def test_wrong_root_is_refused(data: bytes) -> None:
    with pytest.raises(FeedbackError, match="not an auth.031 status advice"):
        parse_status_advice(data)


def test_unknown_status_code_is_refused_without_echoing_it() -> None:
    data = _document(_advice("ACPT")).replace(b"ACPT", b"Q9ZZ")
    with pytest.raises(FeedbackError, match="MsgSts/Sts is not one of") as info:
        parse_status_advice(data)
    assert "Q9ZZ" not in str(info.value)
    with pytest.raises(FeedbackError, match="not valid against the auth.031 XSD") as info:
        parse_status_advice(data, schemas_dir=SCHEMAS)
    assert "Q9ZZ" not in str(info.value)


def test_missing_required_element_is_refused() -> None:
    data = _document("<StsAdvc><MsgRptIdr>F-1</MsgRptIdr></StsAdvc>")
    with pytest.raises(FeedbackError, match="StsAdvc lacks MsgSts"):
        parse_status_advice(data)


def test_empty_advice_list_is_refused() -> None:
    with pytest.raises(FeedbackError, match="no StsAdvc"):
        parse_status_advice(_document(""))


def test_non_utf8_and_oversize_input_are_refused() -> None:
    data = _document(_advice("ACPT"))
    with pytest.raises(FeedbackError, match="UTF-8"):
        parse_status_advice(data.decode().encode("utf-16"))
    latin = data.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    with pytest.raises(FeedbackError, match="UTF-8"):
        parse_status_advice(latin)
    with pytest.raises(FeedbackError, match="larger than"):
        parse_status_advice(data, max_bytes=len(data) - 1)


def test_missing_file_is_a_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_status_advice(tmp_path / "absent.xml")
