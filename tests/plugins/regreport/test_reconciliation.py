"""RTS 22 Art. 15 reconciliation and submission MI against real PostgreSQL.

Each scenario is built by hand: a report table and a quarantine table in a scratch database,
files registered with their ledger entries, marked submitted and answered with status
advices, exactly as the pipeline and the feedback poller would.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import ledger, reconciliation, registry, submissions
from regreport.calendar import BusinessCalendar
from regreport.feedback import RecordStatus, StatusAdvice, ValidationRule
from regreport.reconciliation import (
    CANCELLED_AT_REGULATOR,
    FIELDS_DIFFER,
    MATCHED,
    MISSING_AT_REGULATOR,
    NO_FEEDBACK,
    NOT_SENT,
    PENDING,
    QUARANTINED,
    REJECTED,
    UNKNOWN_TO_SOURCE,
    ReconciliationError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


pytestmark = pytest.mark.integration

DB = "recon_test_regreport"
RPT = "reports.rpt"
QUAR = "reports.quar"
D = date(2026, 11, 26)  # a Thursday
CAL = BusinessCalendar.target(years=range(2026, 2027))
DUP = ValidationRule("CON-023", "Transaction report with the same TRN already sent")
PENDING_RULE = ValidationRule("CON-411", "Pending instrument validation")


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    """A scratch warehouse: registry, ledger, status tables and tiny report tables."""
    dsn = scratch_db(DB)
    with psycopg.connect(dsn) as c:
        reconciliation.ensure_schema(c)
        c.execute("create schema reports")
        c.execute(
            f"create table {RPT} (tx_id text, execution_id bigint, trading_date date,"
            " price numeric, extract_run_id text)"
        )
        c.execute(f"create table {QUAR} (execution_id bigint, trading_date date, reason text)")
        c.commit()
        yield c


def _rows(c: psycopg.Connection[Any], day: date, *execs: int, price: int = 100) -> None:
    for e in execs:
        c.execute(f"insert into {RPT} values (%s, %s, %s, %s, 'run-1')", (f"QS{e}", e, day, price))
    c.commit()


def _sha(c: psycopg.Connection[Any], tx_id: str) -> str:
    """The content hash the pipeline would put in the ledger for the current report row."""
    row = c.execute(
        f"select {ledger.record_hash_sql('r')} from {RPT} as r where tx_id = %s", (tx_id,)
    ).fetchone()
    if row is None:  # no report row (e.g. cancelled in the source): any hash will do
        return hashlib.sha256(tx_id.encode()).hexdigest()
    return str(row[0])


def _file(
    c: psycopg.Connection[Any],
    period: date,
    seq: int,
    entries: list[tuple[str, str]],
    part: int = 1,
) -> int:
    """Register a file of (action, TxId) records; New records carry the row's current hash."""
    ledger_entries = [
        ledger.LedgerEntry(tx, int(tx[2:]), action, _sha(c, tx) if action == ledger.NEW else None)
        for action, tx in entries
    ]
    name = f"F_{period:%Y%m%d}_S{seq:03d}_P{part:02d}.xml"
    return registry.register(
        c,
        report_type="mifir_rts22",
        period_start=period,
        period_end=period,
        file_name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        record_count=len(ledger_entries),
        size=1,
        status="ARCHIVED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest={},
        dag_run_id=None,
        submission_seq=seq,
        part=part,
        part_count=3,
        ledger_entries=ledger_entries,
    ).report_id


def _submit(c: psycopg.Connection[Any], report_id: int, at: datetime) -> str:
    remote = f"remote-{report_id}.xml"
    submissions.mark_submitted(c, report_id, remote, submitted_at=at)
    return remote


def _feedback(c: psycopg.Connection[Any], remote: str, status: str, *records: RecordStatus) -> None:
    advice = StatusAdvice(
        index=0,
        message_report_id=remote,
        status=status,
        rules=(),
        statistics=None,
        records=records,
        business_message_id=None,
        related_message_id=None,
        source_sha256=hashlib.sha256(f"{remote}-{status}-{records}".encode()).hexdigest(),
    )
    submissions.apply_feedback(c, advice)


def _buckets(result: reconciliation.ReconciliationResult) -> dict[str, tuple[str, str | None]]:
    return {i.tx_id: (i.bucket, i.detail) for i in result.items}


def _reconcile(c: psycopg.Connection[Any]) -> reconciliation.ReconciliationResult:
    return reconciliation.reconcile_day(c, D, report_table=RPT, quarantine_table=QUAR)


def test_every_bucket_amendment_and_cancellation(conn: psycopg.Connection[Any]) -> None:
    c = conn
    # Day D: executions 1..7, 9, 10, 11 reported; 8 quarantined. Execution 20 traded the day
    # before and went out late in D's file: it belongs to D-1, never to D's reconciliation.
    _rows(c, D, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11)
    _rows(c, date(2026, 11, 25), 20)
    c.execute(f"insert into {QUAR} values (8, %s, 'QRN-001'), (8, %s, 'QRN-002')", (D, D))
    c.commit()
    file_a = _file(c, D, 1, [("NEWT", f"QS{e}") for e in (1, 2, 5, 6, 9, 10, 11, 20)])
    _file(c, D, 1, [("NEWT", "QS4")], part=2)  # registered, never submitted
    file_g = _file(c, D, 1, [("NEWT", "QS7")], part=3)
    remote_a = _submit(c, file_a, datetime(2026, 11, 27, 10, tzinfo=UTC))
    _submit(c, file_g, datetime(2026, 11, 27, 10, tzinfo=UTC))  # no feedback yet
    _feedback(
        c,
        remote_a,
        "PART",
        RecordStatus("QS5", "PDNG", (PENDING_RULE,)),
        RecordStatus("QS6", "RJCT", (DUP,)),
    )

    first = _reconcile(c)
    # Source: QS1..7, 9, 10, 11 + quarantined QS8 = 11. Held (implicit ACPT in file A): QS1,
    # QS2, QS9, QS10, QS11 -> 5 matched; the 6 others missing, each with its reason.
    assert (first.source_records, first.counts) == (
        11,
        {MATCHED: 5, FIELDS_DIFFER: 0, MISSING_AT_REGULATOR: 6, UNKNOWN_TO_SOURCE: 0},
    )
    assert _buckets(first) == {
        "QS1": (MATCHED, None),
        "QS2": (MATCHED, None),
        "QS3": (MISSING_AT_REGULATOR, NOT_SENT),  # never in a file
        "QS4": (MISSING_AT_REGULATOR, NOT_SENT),  # in a file never submitted
        "QS5": (MISSING_AT_REGULATOR, PENDING),
        "QS6": (MISSING_AT_REGULATOR, REJECTED),
        "QS7": (MISSING_AT_REGULATOR, NO_FEEDBACK),
        "QS8": (MISSING_AT_REGULATOR, QUARANTINED),
        "QS9": (MATCHED, None),
        "QS10": (MATCHED, None),
        "QS11": (MATCHED, None),
    }
    qs1 = first.item("QS1")
    assert qs1 is not None
    assert qs1.source_sha256 == qs1.regulator_sha256 == _sha(c, "QS1")
    assert qs1.execution_id == 1
    qs8 = first.item("QS8")
    assert qs8 is not None
    assert (qs8.execution_id, qs8.source_sha256, qs8.regulator_sha256) == (8, None, None)

    # The source changes: QS2's price is corrected, execution 9 is cancelled (its row
    # vanishes), execution 11 fails a new check and moves to quarantine.
    c.execute(f"update {RPT} set price = 101 where tx_id = 'QS2'")
    c.execute(f"delete from {RPT} where execution_id in (9, 11)")
    c.execute(f"insert into {QUAR} values (11, %s, 'QRN-003')", (D,))
    c.commit()
    second = _reconcile(c)
    # Source: QS1..7, 10 + QS8, QS11 = 10. Matched QS1, QS10; differ QS2 (new price not sent)
    # and QS11 (quarantined, the old version is held); 6 missing as before. QS9 is held but
    # the source no longer has it: unknown, found through its file's period (execution gone).
    assert (second.source_records, second.counts) == (
        10,
        {MATCHED: 2, FIELDS_DIFFER: 2, MISSING_AT_REGULATOR: 6, UNKNOWN_TO_SOURCE: 1},
    )
    got = _buckets(second)
    assert got["QS2"] == (FIELDS_DIFFER, NOT_SENT)
    assert got["QS11"] == (FIELDS_DIFFER, QUARANTINED)
    assert got["QS9"] == (UNKNOWN_TO_SOURCE, NOT_SENT)
    qs2 = second.item("QS2")
    assert qs2 is not None
    assert qs2.source_sha256 == _sha(c, "QS2") != qs2.regulator_sha256
    assert "QS20" not in got

    # The next run sends the amendment (Cxl+New QS2) and cancels QS9, QS11 and (wrongly)
    # QS10. Submitted, no answer yet: nothing changes at the regulator.
    file_c = _file(
        c,
        D,
        2,
        [("CANC", "QS2"), ("CANC", "QS9"), ("CANC", "QS10"), ("CANC", "QS11"), ("NEWT", "QS2")],
    )
    remote_c = _submit(c, file_c, datetime(2026, 11, 30, 9, tzinfo=UTC))
    third = _buckets(_reconcile(c))
    assert third["QS2"] == (FIELDS_DIFFER, NO_FEEDBACK)
    assert third["QS9"] == (UNKNOWN_TO_SOURCE, NO_FEEDBACK)
    assert third["QS10"] == (MATCHED, None)
    assert third["QS11"] == (FIELDS_DIFFER, QUARANTINED)

    _feedback(c, remote_c, "ACPT")
    final = _reconcile(c)
    # QS2 matched again; QS9's cancellation accepted: no longer held, no item; QS10 and QS11
    # cancelled at the regulator: missing. Source 10 = 2 matched + 8 missing.
    assert (final.source_records, final.counts) == (
        10,
        {MATCHED: 2, FIELDS_DIFFER: 0, MISSING_AT_REGULATOR: 8, UNKNOWN_TO_SOURCE: 0},
    )
    got = _buckets(final)
    assert got["QS2"] == (MATCHED, None)
    assert "QS9" not in got
    assert got["QS10"] == (MISSING_AT_REGULATOR, CANCELLED_AT_REGULATOR)
    assert got["QS11"] == (MISSING_AT_REGULATOR, QUARANTINED)

    # Every call appended a run with its items; nothing was replaced.
    runs = c.execute(
        """select run_id, source_records, matched, fields_differ, missing_at_regulator,
                  unknown_to_source from regreport.reconciliation_runs order by run_id"""
    ).fetchall()
    assert [r[1:] for r in runs] == [
        (11, 5, 0, 6, 0),
        (10, 2, 2, 6, 1),
        (10, 2, 2, 6, 1),
        (10, 2, 0, 8, 0),
    ]
    assert runs[-1][0] == final.run_id
    stored = c.execute(
        """select tx_id, bucket, detail from regreport.reconciliation_items
           where run_id = %s order by tx_id""",
        (final.run_id,),
    ).fetchall()
    assert {r[0]: (r[1], r[2]) for r in stored} == got
    items = c.execute("select count(*) from regreport.reconciliation_items").fetchone()
    assert items is not None
    assert items[0] == 11 + 11 + 11 + 10


def test_a_file_rejected_as_a_whole_is_rejected(conn: psycopg.Connection[Any]) -> None:
    _rows(conn, D, 1)
    remote = _submit(conn, _file(conn, D, 1, [("NEWT", "QS1")]), datetime(2026, 11, 27, tzinfo=UTC))
    _feedback(conn, remote, "CRPT")
    assert _buckets(_reconcile(conn)) == {"QS1": (MISSING_AT_REGULATOR, REJECTED)}


def test_an_empty_day_reconciles_to_zero(conn: psycopg.Connection[Any]) -> None:
    result = _reconcile(conn)
    assert (result.source_records, result.items) == (0, ())
    assert set(result.counts.values()) == {0}


def test_duplicate_source_rows_fail_loudly_and_persist_nothing(
    conn: psycopg.Connection[Any],
) -> None:
    _rows(conn, D, 1)
    _rows(conn, D, 1, price=102)
    with pytest.raises(ReconciliationError, match="duplicate TxId"):
        _reconcile(conn)
    runs = conn.execute("select count(*) from regreport.reconciliation_runs").fetchone()
    assert runs is not None
    assert runs[0] == 0


def test_a_bad_table_name_is_refused(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match="not a table name"):
        reconciliation.reconcile_day(conn, D, report_table="x; drop table y")


def test_submission_mi(conn: psycopg.Connection[Any]) -> None:
    c = conn
    fri = date(2026, 11, 27)  # due by the close of Monday 30 Nov: late from Tue 1 Dec 00:00
    _rows(c, fri, 31, 32, 33, 34, 35, 37, 38)  # QS36 was cancelled in the source since
    _rows(c, D, 30)  # Thursday's trade, reported late in Friday's file
    f1 = _file(c, fri, 1, [("NEWT", f"QS{e}") for e in (30, 31, 32, 33, 34)])
    r1 = _submit(c, f1, datetime(2026, 11, 30, 18, tzinfo=UTC))  # Monday evening: on time
    _feedback(
        c,
        r1,
        "PART",
        RecordStatus("QS33", "RJCT", (DUP,)),
        RecordStatus("QS34", "PDNG", (PENDING_RULE,)),
    )
    f2 = _file(c, fri, 2, [("NEWT", "QS35"), ("NEWT", "QS36")])
    r2 = _submit(c, f2, datetime(2026, 12, 1, tzinfo=UTC))  # at the deadline instant: late
    _feedback(c, r2, "ACPT")
    f3 = _file(c, fri, 3, [("NEWT", "QS37")])
    r3 = _submit(c, f3, datetime(2026, 12, 3, 9, tzinfo=UTC))  # Thursday: 3 days late
    _feedback(c, r3, "ACPT")
    _file(c, fri, 4, [("NEWT", "QS38")])  # never submitted

    # Good Friday 2026 (3 Apr, a venue open that day): due by the close of Tuesday 7 Apr
    # (Easter Monday is a TARGET2 holiday), i.e. late from Wed 8 Apr 00:00 UTC.
    gf = date(2026, 4, 3)
    _rows(c, gf, 41, 42, 43)
    g1 = _file(c, gf, 1, [("NEWT", "QS41"), ("NEWT", "QS43")])
    _feedback(c, _submit(c, g1, datetime(2026, 4, 7, 17, tzinfo=UTC)), "ACPT")
    g2 = _file(c, gf, 2, [("NEWT", "QS42")])
    _feedback(c, _submit(c, g2, datetime(2026, 4, 8, 8, tzinfo=UTC)), "ACPT")
    # QS43 is amended later; the amendment is pending: its current status is pending, but it
    # was first accepted from an on-time file, so it stays on time.
    c.execute(f"update {RPT} set price = 99 where tx_id = 'QS43'")
    c.commit()
    g3 = _file(c, gf, 3, [("CANC", "QS43"), ("NEWT", "QS43")])
    r_g3 = _submit(c, g3, datetime(2026, 4, 9, 8, tzinfo=UTC))
    _feedback(c, r_g3, "PART", RecordStatus("QS43", "PDNG", (PENDING_RULE,)))

    now = datetime(2026, 12, 10, tzinfo=UTC)
    rows = reconciliation.submission_mi(
        c, start=fri, end=date(2026, 11, 30), calendar=CAL, now=now, report_table=RPT
    )
    # Fri 27 Nov has records; Sat/Sun have none and are not business days (no row); Mon 30
    # is a business day with nothing reported (a row of zeros).
    assert [r.trading_date for r in rows] == [fri, date(2026, 11, 30)]
    friday, monday = rows
    # Records: QS31..QS38 = 8 (QS30 belongs to Thursday by its report row; QS36 has no report
    # row and is dated by its file's period). Accepted QS31, QS32, QS35, QS36, QS37 = 5:
    # 5/8 = 0.6250; rejected QS33 = 1/8 = 0.1250; pending QS34; unanswered QS38.
    # On time QS31, QS32 (Mon 18:00); late QS35, QS36 (Tue 00:00: 1 day), QS37 (Thu: Tue, Wed,
    # Thu = 3 days). Overdue at 10 Dec: never accepted QS33, QS34, QS38 = 3.
    assert (friday.records, friday.accepted, friday.rejected, friday.pending) == (8, 5, 1, 1)
    assert friday.unanswered == 1
    assert (friday.acceptance_rate, friday.rejection_rate) == (
        Decimal("0.6250"),
        Decimal("0.1250"),
    )
    assert friday.deadline == datetime(2026, 12, 1, tzinfo=UTC)
    assert (friday.on_time, friday.late, friday.overdue, friday.max_days_late) == (2, 3, 3, 3)
    assert (monday.records, monday.acceptance_rate, monday.rejection_rate) == (0, None, None)
    assert (monday.on_time, monday.late, monday.overdue, monday.max_days_late) == (0, 0, 0, None)
    assert monday.deadline == datetime(2026, 12, 2, tzinfo=UTC)

    (good_friday,) = reconciliation.submission_mi(
        c, start=gf, end=gf, calendar=CAL, now=now, report_table=RPT
    )
    # QS41, QS42, QS43: 3 records. Accepted now: QS41, QS42 (QS43's amendment is pending):
    # 2/3 = 0.6667, rejected 0/3 = 0.0000. On time QS41 and QS43 (Tue 7 Apr 17:00), late QS42
    # (Wed 8 Apr: 1 working day).
    assert good_friday.deadline == datetime(2026, 4, 8, tzinfo=UTC)
    assert (good_friday.records, good_friday.accepted, good_friday.pending) == (3, 2, 1)
    assert (good_friday.acceptance_rate, good_friday.rejection_rate) == (
        Decimal("0.6667"),
        Decimal("0.0000"),
    )
    assert (good_friday.on_time, good_friday.late, good_friday.max_days_late) == (2, 1, 1)
    assert good_friday.overdue == 0

    # Before the deadline, nothing is overdue; write, then recompute later: upserted.
    early = reconciliation.submission_mi(
        c,
        start=fri,
        end=fri,
        calendar=CAL,
        now=datetime(2026, 11, 30, 12, tzinfo=UTC),
        report_table=RPT,
    )
    assert early[0].overdue == 0
    assert reconciliation.write_mi(c, early) == 1
    reconciliation.write_mi(c, [*rows, good_friday])
    stored = c.execute(
        """select trading_date, records, acceptance_rate, rejection_rate, on_time, late,
                  overdue, max_days_late, deadline, calendar_name
           from regreport.submission_mi order by trading_date"""
    ).fetchall()
    assert stored == [
        (gf, 3, Decimal("0.6667"), Decimal("0.0000"), 2, 1, 0, 1, good_friday.deadline, "TARGET2"),
        (fri, 8, Decimal("0.6250"), Decimal("0.1250"), 2, 3, 3, 3, friday.deadline, "TARGET2"),
        (date(2026, 11, 30), 0, None, None, 0, 0, 0, None, monday.deadline, "TARGET2"),
    ]


def test_submission_mi_in_a_local_time_zone(conn: psycopg.Connection[Any]) -> None:
    # Thursday 26 Nov in Paris: due by Friday's close = Fri 23:00 UTC. A file at Fri 22:30 UTC
    # is on time; one at Fri 23:30 UTC (Saturday 00:30 in Paris) is late by 1 working day.
    _rows(conn, D, 1, 2)
    f1 = _file(conn, D, 1, [("NEWT", "QS1")])
    _feedback(conn, _submit(conn, f1, datetime(2026, 11, 27, 22, 30, tzinfo=UTC)), "ACPT")
    f2 = _file(conn, D, 2, [("NEWT", "QS2")])
    _feedback(conn, _submit(conn, f2, datetime(2026, 11, 27, 23, 30, tzinfo=UTC)), "ACPT")
    (row,) = reconciliation.submission_mi(
        conn, start=D, end=D, calendar=CAL, tz="Europe/Paris", report_table=RPT
    )
    assert row.deadline == datetime(2026, 11, 27, 23, tzinfo=UTC)
    assert (row.on_time, row.late, row.max_days_late) == (1, 1, 1)


def test_submission_mi_argument_checks(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match="before start"):
        reconciliation.submission_mi(conn, start=D, end=date(2026, 11, 1), calendar=CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        reconciliation.submission_mi(conn, start=D, end=D, calendar=CAL, now=datetime(2026, 11, 30))


def test_a_held_amendment_stands_for_every_txid_it_was_reported_under(
    conn: psycopg.Connection[Any],
) -> None:
    """A matched-principal fill (QS50, QS50M) was accepted, then its source row went bad.

    It is quarantined now (the accepted versions stay at the regulator): both TxIds are the
    source's, FIELDS_DIFFER / QUARANTINED, never UNKNOWN_TO_SOURCE; a quarantined fill never
    sent (QS51) is MISSING_AT_REGULATOR; the MI counts the day's quarantined source rows, the
    duplicated execution 52 twice.
    """
    c = conn
    c.execute(f"alter table {QUAR} add column source_rows integer not null default 1")
    c.execute(
        f"insert into {RPT} values ('QS50', 50, %s, 10, 'r'), ('QS50M', 50, %s, 10, 'r')", (D, D)
    )
    shas = dict(
        c.execute(f"select tx_id, {ledger.record_hash_sql('r')} from {RPT} as r").fetchall()
    )
    sent = registry.register(
        c,
        report_type="mifir_rts22",
        period_start=D,
        period_end=D,
        file_name="F_MTCH.xml",
        sha256="5" * 64,
        record_count=2,
        size=1,
        status="ARCHIVED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest={},
        dag_run_id=None,
        ledger_entries=[ledger.LedgerEntry(t, 50, ledger.NEW, shas[t]) for t in ("QS50", "QS50M")],
    ).report_id
    _feedback(c, _submit(c, sent, datetime(2026, 11, 27, 8, tzinfo=UTC)), "ACPT")
    # The source goes bad: the report rows leave, the execution is quarantined.
    c.execute(f"delete from {RPT} where execution_id = 50")
    c.execute(
        f"insert into {QUAR} values (50, %s, 'RR-LEI-001', 1), (51, %s, 'RR-LEI-001', 1),"
        " (52, %s, 'DUPLICATE_EXECUTION_ID', 2)",
        (D, D, D),
    )
    c.commit()
    result = _reconcile(c)
    assert _buckets(result) == {
        "QS50": (FIELDS_DIFFER, QUARANTINED),
        "QS50M": (FIELDS_DIFFER, QUARANTINED),
        "QS51": (MISSING_AT_REGULATOR, QUARANTINED),
        "QS52": (MISSING_AT_REGULATOR, QUARANTINED),
    }
    assert result.unknown_to_source == 0
    assert result.source_records == 4
    [mi] = reconciliation.submission_mi(
        c, start=D, end=D, calendar=CAL, report_table=RPT, quarantine_table=QUAR
    )
    assert (mi.records, mi.accepted, mi.quarantined) == (2, 2, 4)  # 50, 51, 52 twice
