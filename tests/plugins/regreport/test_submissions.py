"""Per-file and per-record submission statuses against real PostgreSQL, every transition."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import ledger, registry, submissions
from regreport.feedback import (
    RecordStatus,
    StatusAdvice,
    ValidationRule,
    parse_status_advice,
)
from regreport.submissions import (
    DuplicateSubmissionError,
    FeedbackConflictError,
    SubmissionError,
    UnknownReportError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


pytestmark = pytest.mark.integration

DB = "h8_submissions_test"
DAY = date(2026, 11, 26)
# make_business_message_id("mifir_rts22", 2026-11-26, sequence=1, part=p):
# "MIFIR_RTS22" + "-20261126" + "-S001" + "-P0p".
FILE1_ID = "MIFIR_RTS22-20261126-S001-P01"
FILE2_ID = "MIFIR_RTS22-20261126-S001-P02"
DUP = ValidationRule("CON-023", "Transaction report with the same TRN already sent")
PENDING = ValidationRule("CON-411", "Pending instrument validation")
NOT_IN_FIRDS = ValidationRule("CON-412", "Instrument not valid in reference data")
CORRUPT = ValidationRule("FIL-104", "The file is corrupted")


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    """A scratch warehouse with the registry, the ledger and the status tables."""
    dsn = scratch_db(DB)
    with psycopg.connect(dsn) as c:
        registry.ensure_schema(c)
        submissions.ensure_schema(c)
        c.commit()
        yield c


def _register(c: psycopg.Connection[Any], part: int, tx_ids: list[str]) -> int:
    """Register part `part` of submission 1 with one New record per TxId."""
    entries = [ledger.LedgerEntry(tx, i, ledger.NEW, f"{i:064d}") for i, tx in enumerate(tx_ids, 1)]
    return registry.register(
        c,
        report_type="mifir_rts22",
        period_start=DAY,
        period_end=DAY,
        file_name=f"MIFIR_FR_20261126_S001_P{part:02d}.xml",
        sha256=f"{part:064d}",
        record_count=len(entries),
        size=1,
        status="ARCHIVED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest={},
        dag_run_id=None,
        part=part,
        part_count=2,
        ledger_entries=entries,
    ).report_id


@pytest.fixture
def files(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """Two files of one submission: QS1..QS4 and QS5..QS6."""
    return _register(conn, 1, ["QS1", "QS2", "QS3", "QS4"]), _register(conn, 2, ["QS5", "QS6"])


def _advice(
    status: str,
    records: tuple[RecordStatus, ...] = (),
    *,
    ident: str | None = FILE1_ID,
    rules: tuple[ValidationRule, ...] = (),
    feedback: str = "fb-1",
    index: int = 0,
) -> StatusAdvice:
    """An advice as `parse_status_advice` returns it; `feedback` names its (fake) file."""
    return StatusAdvice(
        index=index,
        message_report_id=ident,
        status=status,
        rules=rules,
        statistics=None,
        records=records,
        business_message_id=None,
        related_message_id=None,
        source_sha256=hashlib.sha256(feedback.encode()).hexdigest(),
    )


def _history(c: psycopg.Connection[Any], report_id: int, tx_id: str) -> list[tuple[Any, ...]]:
    return c.execute(
        """select status, status_code, implicit from regreport.record_status_events
           where report_id = %s and tx_id = %s order by event_id""",
        (report_id, tx_id),
    ).fetchall()


def _count(c: psycopg.Connection[Any], table: str) -> int:
    row = c.execute(f"select count(*) from regreport.{table}").fetchone()
    return int(row[0])


def test_generated_then_submitted_idempotently(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, second = files
    assert submissions.status(conn, first).status == "GENERATED"
    got = submissions.mark_submitted(conn, first, "MIFIR_FR_20261126_S001_P01.xml")
    assert (got.status, got.remote_name, got.attempts) == (
        "SUBMITTED",
        "MIFIR_FR_20261126_S001_P01.xml",
        1,
    )
    assert got.business_message_id == FILE1_ID
    assert got.submitted_at is not None
    # The same call again (a retried task) changes nothing: still one SUBMITTED event.
    again = submissions.mark_submitted(conn, first, "MIFIR_FR_20261126_S001_P01.xml")
    assert again == got
    assert _count(conn, "submission_events") == 1
    with pytest.raises(DuplicateSubmissionError, match="already submitted as"):
        submissions.mark_submitted(conn, first, "other-name.xml")
    with pytest.raises(DuplicateSubmissionError, match="already used by report"):
        submissions.mark_submitted(conn, second, "MIFIR_FR_20261126_S001_P01.xml")
    assert submissions.status(conn, second).status == "GENERATED"
    with pytest.raises(UnknownReportError):
        submissions.mark_submitted(conn, 999, "x.xml")


def test_attempts_are_counted(conn: psycopg.Connection[Any], files: tuple[int, int]) -> None:
    first, _ = files
    # Two failed tries, then the upload that worked: 2 + 1 = 3 attempts.
    assert submissions.record_attempt(conn, first, "ConnectionResetError") == 1
    assert submissions.record_attempt(conn, first, "timeout") == 2
    submissions.record_attempt(conn, first, None)
    got = submissions.mark_submitted(conn, first, "f1.xml")
    assert got.attempts == 3


def test_acpt_accepts_every_unmentioned_record(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    result = submissions.apply_feedback(conn, _advice("ACPT"))
    # The file holds QS1..QS4, none mentioned: 4 implicit ACPT rows.
    assert (result.report_id, result.status, result.applied, result.record_events) == (
        first,
        "ACCEPTED",
        True,
        4,
    )
    got = submissions.status(conn, first)
    assert (got.status, got.status_code, got.records, got.unanswered) == (
        "ACCEPTED",
        "ACPT",
        {"ACPT": 4},
        0,
    )
    assert _history(conn, first, "QS1") == [("ACPT", "ACPT", True)]
    assert submissions.exceptions(conn) == []


def test_part_then_pending_becomes_rejected_and_another_accepted(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    part = _advice(
        "PART",
        (
            RecordStatus("QS2", "RJCT", (DUP,)),
            RecordStatus("QS3", "PDNG", (PENDING,)),
            RecordStatus("QS4", "PDNG", (PENDING,)),
        ),
    )
    submissions.apply_feedback(conn, part)
    got = submissions.status(conn, first)
    # QS1 unmentioned -> ACPT; QS2 RJCT; QS3, QS4 PDNG.
    assert (got.status, got.records) == ("PARTIALLY_ACCEPTED", {"ACPT": 1, "RJCT": 1, "PDNG": 2})

    # Day 2: the re-check rejects QS3 (CON-412); QS4 stays pending as it is not mentioned.
    day2 = _advice("PART", (RecordStatus("QS3", "RJCT", (NOT_IN_FIRDS,)),), feedback="fb-2")
    submissions.apply_feedback(conn, day2)
    assert submissions.status(conn, first).records == {"ACPT": 1, "RJCT": 2, "PDNG": 1}
    assert _history(conn, first, "QS3") == [("PDNG", "PDNG", False), ("RJCT", "RJCT", False)]
    assert _history(conn, first, "QS4") == [("PDNG", "PDNG", False)]

    # Day 3: QS4 accepted. The advice says ACPT, but QS2 and QS3 stay rejected, so the file
    # stays PARTIALLY_ACCEPTED, and QS1 (settled on day 1) gets no second row.
    day3 = _advice("ACPT", (RecordStatus("QS4", "ACPT"),), feedback="fb-3")
    result = submissions.apply_feedback(conn, day3)
    assert (result.status, result.record_events) == ("PARTIALLY_ACCEPTED", 1)
    got = submissions.status(conn, first)
    assert (got.status, got.status_code, got.records) == (
        "PARTIALLY_ACCEPTED",
        "ACPT",
        {"ACPT": 2, "RJCT": 2},
    )
    assert _history(conn, first, "QS4") == [("PDNG", "PDNG", False), ("ACPT", "ACPT", False)]
    assert _history(conn, first, "QS1") == [("ACPT", "ACPT", True)]

    exc = submissions.exceptions(conn)
    assert [(e.report_id, e.tx_id, e.rule_id, e.rule_description) for e in exc] == [
        (first, "QS2", DUP.id, DUP.description),
        (first, "QS3", NOT_IN_FIRDS.id, NOT_IN_FIRDS.description),
    ]
    assert {e.file_name for e in exc} == {"MIFIR_FR_20261126_S001_P01.xml"}


def test_pending_only_file_becomes_accepted(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    _, second = files
    submissions.mark_submitted(conn, second, "f2.xml")
    pending = (RecordStatus("QS5", "PDNG", (PENDING,)),)
    submissions.apply_feedback(conn, _advice("PART", pending, ident=FILE2_ID))
    # QS6 unmentioned -> ACPT; QS5 PDNG.
    assert submissions.status(conn, second).records == {"ACPT": 1, "PDNG": 1}
    done = (RecordStatus("QS5", "ACPT"),)
    result = submissions.apply_feedback(conn, _advice("ACPT", done, ident=FILE2_ID, feedback="b"))
    assert result.status == "ACCEPTED"
    assert submissions.status(conn, second).records == {"ACPT": 2}
    assert submissions.exceptions(conn) == []


def test_same_feedback_twice_is_idempotent(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    advice = _advice("PART", (RecordStatus("QS2", "RJCT", (DUP,)),))
    assert submissions.apply_feedback(conn, advice).applied is True
    before = (_count(conn, "record_status_events"), _count(conn, "submission_events"))
    again = submissions.apply_feedback(conn, advice)
    assert (again.applied, again.record_events, again.status) == (
        False,
        0,
        "PARTIALLY_ACCEPTED",
    )
    assert (_count(conn, "record_status_events"), _count(conn, "submission_events")) == before


@pytest.mark.parametrize("code", ["RJCT", "CRPT", "INCF"])
def test_file_level_rejection_keeps_the_code(
    conn: psycopg.Connection[Any], files: tuple[int, int], code: str
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    result = submissions.apply_feedback(conn, _advice(code, rules=(CORRUPT,)))
    # A rejected file accepts nothing implicitly: no record rows.
    assert (result.status, result.record_events) == ("REJECTED", 0)
    got = submissions.status(conn, first)
    assert (got.status, got.status_code, got.status_rules, got.unanswered) == (
        "REJECTED",
        code,
        ((CORRUPT.id, CORRUPT.description),),
        4,
    )
    with pytest.raises(FeedbackConflictError, match="was rejected"):
        submissions.apply_feedback(conn, _advice("ACPT", feedback="later"))


def test_rejected_file_with_record_statuses_lists_exceptions(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    recs = (RecordStatus("QS1", "RJCT", (DUP, NOT_IN_FIRDS)),)
    submissions.apply_feedback(conn, _advice("RJCT", recs))
    # One record, two rules: two exception rows, ordered by rule id.
    assert [(e.tx_id, e.rule_id) for e in submissions.exceptions(conn, first)] == [
        ("QS1", "CON-023"),
        ("QS1", "CON-412"),
    ]
    assert submissions.status(conn, first).records == {"RJCT": 1}


def test_rcvd_keeps_the_file_submitted(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    result = submissions.apply_feedback(conn, _advice("RCVD"))
    assert (result.status, result.record_events) == ("SUBMITTED", 0)
    assert submissions.status(conn, first).status_code == "RCVD"


def test_final_record_status_cannot_be_overturned(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    submissions.apply_feedback(conn, _advice("ACPT"))
    later = _advice("PART", (RecordStatus("QS1", "RJCT", (DUP,)),), feedback="fb-2")
    with pytest.raises(FeedbackConflictError, match="is final"):
        submissions.apply_feedback(conn, later)
    assert submissions.status(conn, first).records == {"ACPT": 4}


def test_feedback_for_an_unknown_file_is_a_clear_error(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    with pytest.raises(UnknownReportError, match="NOT-OUR-FILE .* matches no submitted report"):
        submissions.apply_feedback(conn, _advice("ACPT", ident="NOT-OUR-FILE"))
    with pytest.raises(UnknownReportError, match="no message id"):
        submissions.apply_feedback(conn, _advice("ACPT", ident=None))
    # FILE2 is registered but was never submitted: the default lookup does not match it ...
    with pytest.raises(UnknownReportError):
        submissions.apply_feedback(conn, _advice("ACPT", ident=FILE2_ID))
    # ... and a caller's lookup that finds it is told to mark it submitted first.
    _, second = files
    with pytest.raises(SubmissionError, match="never marked submitted"):
        submissions.apply_feedback(conn, _advice("ACPT", ident=FILE2_ID), lambda a: second)
    assert _count(conn, "record_status_events") == 0


def test_record_not_in_the_file_rolls_everything_back(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "f1.xml")
    advice = _advice("PART", (RecordStatus("QS2", "RJCT"), RecordStatus("QS5", "RJCT")))
    with pytest.raises(SubmissionError, match="not in the file, e.g. TxId QS5"):
        submissions.apply_feedback(conn, advice)
    got = submissions.status(conn, first)
    assert (got.status, got.records) == ("SUBMITTED", {})


def test_match_by_file_name_and_parsed_feedback_end_to_end(
    conn: psycopg.Connection[Any], files: tuple[int, int]
) -> None:
    first, _ = files
    submissions.mark_submitted(conn, first, "MIFIR_FR_20261126_S001_P01.xml")
    # An NCA that puts the file name (without extension) in MsgRptIdr.
    ns = "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"
    data = (
        f'<Document xmlns="{ns}"><FinInstrmRptgStsAdvc><StsAdvc>'
        "<MsgRptIdr>MIFIR_FR_20261126_S001_P01</MsgRptIdr><MsgSts><Sts>PART</Sts></MsgSts>"
        "<RcrdSts><OrgnlRcrdId>QS4</OrgnlRcrdId><Sts>RJCT</Sts><VldtnRule><Id>CON-023</Id>"
        "<Desc>duplicate</Desc></VldtnRule></RcrdSts></StsAdvc></FinInstrmRptgStsAdvc></Document>"
    ).encode()
    (advice,) = parse_status_advice(data)
    result = submissions.apply_feedback(conn, advice)
    # QS1..QS3 unmentioned -> 3 ACPT, QS4 RJCT: 4 rows.
    assert (result.report_id, result.status, result.record_events) == (
        first,
        "PARTIALLY_ACCEPTED",
        4,
    )
    got = submissions.status(conn, first)
    assert got.feedback_sha256 == hashlib.sha256(data).hexdigest()
    assert [(e.tx_id, e.rule_id, e.rule_description) for e in submissions.exceptions(conn)] == [
        ("QS4", "CON-023", "duplicate")
    ]
