"""`ledger.plan` with regulator statuses: what is resent after a rejection, what is held back.

Real PostgreSQL: a three-row report table and its scope query (as in test_ledger.py), files
registered with their ledger entries, marked submitted, and answered with hand-made status
advice through `submissions.apply_feedback`, so the plan sees exactly what the feedback loop
records.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import ledger, registry, submissions
from regreport.feedback import RecordStatus, StatusAdvice, ValidationRule
from regreport.xml.render import make_business_message_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


pytestmark = pytest.mark.integration

DB = "regreport_ledger_resubmission_test"
REPORT = "reports.rpt"
DAY = date(2026, 11, 26)
SCOPE = (
    "select execution_id from raw.executions"
    " where (executed_at >= %(start)s and executed_at < %(end)s)"
    " or (updated_at >= %(start)s and updated_at < %(end)s)"
)
BOUNDS = {"start": "2026-11-26T00:00:00+00:00", "end": "2026-11-27T00:00:00+00:00"}
NOT_IN_FIRDS = ValidationRule("CON-412", "Instrument not valid in reference data")
PENDING = ValidationRule("CON-411", "Pending instrument validation")
CANCEL_UNKNOWN = ValidationRule("CON-024", "Transaction to cancel does not exist")
XSD = ValidationRule("FIL-105", "The file structure does not correspond to the XML schema")


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    """A scratch warehouse: raw executions, a three-row report table, registry and statuses."""
    dsn = scratch_db(DB)
    with psycopg.connect(dsn) as c:
        c.execute(
            """
            create schema raw; create schema reports;
            create table raw.executions (
                execution_id bigint, executed_at timestamptz, updated_at timestamptz);
            create table reports.rpt (
                tx_id text, execution_id bigint, price numeric, extract_run_id text);
            insert into raw.executions values
                (1, '2026-11-26 09:00Z', '2026-11-26 09:00Z'),
                (2, '2026-11-26 10:00Z', '2026-11-26 10:00Z'),
                (3, '2026-11-26 11:00Z', '2026-11-26 11:00Z'),
                (4, '2026-11-26 12:00Z', '2026-11-26 12:00Z');
            insert into reports.rpt values
                ('QS1', 1, 10.5, 'run-a'), ('QS2', 2, 20, 'run-a'), ('QS3', 3, 30, 'run-a');
            """
        )
        registry.ensure_schema(c)
        c.commit()
        yield c


#: Here every execution without a report row was withdrawn by the source (busted): these tests
#: are about rejections; amendments held for a quarantined execution are in test_ledger.
WITHDRAWN = (
    "select execution_id from raw.executions"
    " where execution_id not in (select execution_id from reports.rpt)"
)


def _plan(c: psycopg.Connection[Any], **flags: bool) -> ledger.Plan:
    return ledger.plan(
        c,
        report_table=REPORT,
        scope_sql=SCOPE,
        scope_params=BOUNDS,
        withdrawn_sql=WITHDRAWN,
        **flags,
    )


def _submit(c: psycopg.Connection[Any], plan: ledger.Plan, seq: int) -> int:
    """Register submission `seq` for the plan (Cxls first, then News) and mark it submitted."""
    shas = dict(
        c.execute(f"select tx_id, {ledger.record_hash_sql('r')} from {REPORT} as r").fetchall()
    )
    entries = [ledger.LedgerEntry(t, e, ledger.CANCEL, None) for t, e in plan.cancels]
    entries += [ledger.LedgerEntry(t, int(t[2:]), ledger.NEW, shas[t]) for t in sorted(plan.news)]
    row = registry.register(
        c,
        report_type="mifir_rts22",
        period_start=DAY,
        period_end=date(2026, 11, 27),
        file_name=f"f{seq}.xml",
        sha256=f"{seq:064d}",
        record_count=len(entries),
        size=1,
        status="ARCHIVED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest={},
        dag_run_id=None,
        submission_seq=seq,
        ledger_entries=entries,
    )
    c.commit()
    submissions.mark_submitted(c, row.report_id, f"f{seq}.xml")
    return row.report_id


def _answer(
    c: psycopg.Connection[Any],
    seq: int,
    status: str,
    *records: RecordStatus,
    rules: tuple[ValidationRule, ...] = (),
) -> str:
    """Apply the regulator's advice on submission `seq`; returns the resulting file status."""
    ident = make_business_message_id("mifir_rts22", DAY, sequence=seq, part=1)
    advice = StatusAdvice(
        index=0,
        message_report_id=ident,
        status=status,
        rules=rules,
        statistics=None,
        records=records,
        business_message_id=None,
        related_message_id=None,
        source_sha256=hashlib.sha256(f"{seq}-{status}-{records}".encode()).hexdigest(),
    )
    return submissions.apply_feedback(c, advice).status


def _reject_qs2(c: psycopg.Connection[Any]) -> int:
    """Submission 1 (QS1..QS3) comes back PART: QS2 rejected (CON-412), the others accepted."""
    first = _submit(c, _plan(c), 1)
    status = _answer(c, 1, "PART", RecordStatus("QS2", "RJCT", (NOT_IN_FIRDS,)))
    assert status == "PARTIALLY_ACCEPTED"
    return first


def test_rejected_unchanged_record_is_held_back(conn: psycopg.Connection[Any]) -> None:
    _reject_qs2(conn)
    plan = _plan(conn)
    # Sending QS2 again unchanged would only be rejected again; a rejected New is not held by
    # the regulator, so there is nothing to cancel either.
    assert plan.held_back == ["QS2"]
    assert (plan.news, plan.cancels, plan.resubmitted, plan.unchanged) == (set(), [], set(), 2)
    assert plan.record_count == 0


def test_changed_rejected_record_is_resent_as_new_without_cancel(
    conn: psycopg.Connection[Any],
) -> None:
    first = _reject_qs2(conn)
    conn.execute(f"update {REPORT} set price = 21 where tx_id = 'QS2'")
    plan = _plan(conn)
    assert (plan.news, plan.cancels, plan.amended) == ({"QS2"}, [], set())
    assert plan.resubmitted == {"QS2"}
    assert (plan.held_back, plan.unchanged) == ([], 2)

    second = _submit(conn, plan, 2)
    history = ledger.history(conn, "QS2")
    assert [(h["action"], h["report_id"]) for h in history] == [
        ("NEWT", first),
        ("NEWT", second),
    ]
    assert history[1]["supersedes_entry_id"] == history[0]["entry_id"]
    assert history[1]["original_entry_id"] == history[0]["entry_id"]

    # Accepted this time: QS2 is now held by the regulator, nothing is left to send.
    assert _answer(conn, 2, "ACPT") == "ACCEPTED"
    again = _plan(conn)
    assert (again.record_count, again.unchanged, again.held_back) == (0, 3, [])


def test_only_rejected_ignores_other_changes(conn: psycopg.Connection[Any]) -> None:
    _reject_qs2(conn)
    conn.execute(f"insert into {REPORT} values ('QS4', 4, 40, 'run-b')")  # a new row
    conn.execute(f"update {REPORT} set price = 11 where tx_id = 'QS1'")  # accepted, amended

    plan = _plan(conn, only_rejected=True)
    assert (plan.news, plan.cancels, plan.held_back) == (set(), [], ["QS2"])

    conn.execute(f"update {REPORT} set price = 21 where tx_id = 'QS2'")
    plan = _plan(conn, only_rejected=True)
    assert (plan.news, plan.cancels, plan.resubmitted) == ({"QS2"}, [], {"QS2"})
    assert (plan.amended, plan.held_back) == (set(), [])

    # A normal run takes everything: the amendment, the new row and the fixed rejection.
    full = _plan(conn)
    assert full.cancels == [("QS1", 1)]
    assert full.news == {"QS1", "QS2", "QS4"}
    assert (full.amended, full.resubmitted) == ({"QS1"}, {"QS2"})


def test_resend_unchanged_resends_a_rejected_record(conn: psycopg.Connection[Any]) -> None:
    _reject_qs2(conn)
    plan = _plan(conn, resend_unchanged=True)
    assert (plan.news, plan.cancels, plan.resubmitted, plan.held_back) == (
        {"QS2"},
        [],
        {"QS2"},
        [],
    )
    # Combined with only_rejected (the "reference data now has the instrument" run).
    conn.execute(f"update {REPORT} set price = 11 where tx_id = 'QS1'")
    narrow = _plan(conn, only_rejected=True, resend_unchanged=True)
    assert (narrow.news, narrow.cancels) == ({"QS2"}, [])


def test_whole_file_rejection_counts_as_rejected(conn: psycopg.Connection[Any]) -> None:
    _submit(conn, _plan(conn), 1)
    assert _answer(conn, 1, "RJCT", rules=(XSD,)) == "REJECTED"
    plan = _plan(conn)
    assert plan.held_back == ["QS1", "QS2", "QS3"]
    assert (plan.news, plan.cancels, plan.unchanged) == (set(), [], 0)

    conn.execute(f"update {REPORT} set price = 11 where tx_id = 'QS1'")
    plan = _plan(conn)
    assert (plan.news, plan.cancels, plan.resubmitted) == ({"QS1"}, [], {"QS1"})
    assert plan.held_back == ["QS2", "QS3"]
    everything = _plan(conn, resend_unchanged=True)
    assert (everything.news, everything.cancels) == ({"QS1", "QS2", "QS3"}, [])


def test_accepted_record_amended_is_cancelled_and_reported_again(
    conn: psycopg.Connection[Any],
) -> None:
    _submit(conn, _plan(conn), 1)
    assert _answer(conn, 1, "ACPT") == "ACCEPTED"
    conn.execute(f"update {REPORT} set price = 21 where tx_id = 'QS2'")
    plan = _plan(conn)
    assert (plan.cancels, plan.news, plan.amended) == ([("QS2", 2)], {"QS2"}, {"QS2"})
    assert (plan.resubmitted, plan.held_back, plan.unchanged) == (set(), [], 2)
    # only_rejected leaves the amendment for a normal run.
    assert _plan(conn, only_rejected=True).record_count == 0


def test_pending_and_unanswered_records_are_held_by_the_regulator(
    conn: psycopg.Connection[Any],
) -> None:
    _submit(conn, _plan(conn), 1)
    # Submitted, no answer yet: everything counts as held (nothing is resent).
    assert (_plan(conn).unchanged, _plan(conn).record_count) == (3, 0)

    _answer(conn, 1, "PART", RecordStatus("QS2", "PDNG", (PENDING,)))
    plan = _plan(conn)
    assert (plan.unchanged, plan.record_count, plan.held_back) == (3, 0, [])
    assert _plan(conn, resend_unchanged=True).record_count == 0

    # An amended pending record is a normal amendment: Cxl + New, not a resubmission.
    conn.execute(f"update {REPORT} set price = 21 where tx_id = 'QS2'")
    plan = _plan(conn)
    assert (plan.cancels, plan.news, plan.amended, plan.resubmitted) == (
        [("QS2", 2)],
        {"QS2"},
        {"QS2"},
        set(),
    )


def test_rejected_cancel_is_held_back(conn: psycopg.Connection[Any]) -> None:
    _submit(conn, _plan(conn), 1)
    _answer(conn, 1, "ACPT")
    conn.execute(f"delete from {REPORT} where tx_id = 'QS3'")
    plan = _plan(conn)
    assert (plan.cancels, plan.news) == ([("QS3", 3)], set())
    _submit(conn, plan, 2)
    assert _answer(conn, 2, "RJCT", RecordStatus("QS3", "RJCT", (CANCEL_UNKNOWN,))) == "REJECTED"

    # The refused Cxl is not repeated by itself; the New of file 1 is still what is held.
    plan = _plan(conn)
    assert (plan.cancels, plan.held_back, plan.unchanged) == ([], ["QS3"], 2)
    forced = _plan(conn, resend_unchanged=True)
    assert (forced.cancels, forced.news, forced.resubmitted) == ([("QS3", 3)], set(), {"QS3"})


def test_rejected_new_of_an_amendment_is_resent_without_cancel(
    conn: psycopg.Connection[Any],
) -> None:
    _submit(conn, _plan(conn), 1)
    _answer(conn, 1, "ACPT")
    conn.execute(f"update {REPORT} set price = 21 where tx_id = 'QS2'")
    _submit(conn, _plan(conn), 2)  # Cxl QS2 + New QS2
    # The regulator (as the gateway simulator does) applies the Cxl and rejects the New: its
    # advice has one RcrdSts for TxId QS2, RJCT CON-412; the Cxl, accepted, is unmentioned.
    _answer(conn, 2, "PART", RecordStatus("QS2", "RJCT", (NOT_IN_FIRDS,)))

    conn.execute(f"update {REPORT} set price = 22 where tx_id = 'QS2'")
    plan = _plan(conn)
    # The regulator holds no QS2 any more: a Cxl would be rejected (CON-024).
    assert (plan.cancels, plan.news, plan.resubmitted) == ([], {"QS2"}, {"QS2"})
