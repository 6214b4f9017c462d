"""The transaction ledger against real PostgreSQL: plan (diff) and record (append, linked)."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import ledger, registry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


DB = "regreport_ledger_test"
REPORT = "reports.rpt"
START = "2026-11-26T00:00:00+00:00"
END = "2026-11-27T00:00:00+00:00"
SCOPE = (
    "select execution_id from raw.executions"
    " where (executed_at >= %(start)s and executed_at < %(end)s)"
    " or (updated_at >= %(start)s and updated_at < %(end)s)"
)
BOUNDS = {"start": START, "end": END}
#: Executions the source withdrew (busted, or made not reportable): eligibility's verdict.
WITHDRAWN = "select execution_id from raw.withdrawn"


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    """A scratch warehouse: raw executions, a three-row report table, the registry."""
    dsn = scratch_db(DB)
    with psycopg.connect(dsn) as c:
        c.execute(
            """
            create schema raw; create schema reports;
            create table raw.executions (
                execution_id bigint, executed_at timestamptz, updated_at timestamptz);
            create table raw.withdrawn (execution_id bigint);
            create table reports.rpt (
                tx_id text, execution_id bigint, price numeric, extract_run_id text);
            insert into raw.executions values
                (1, '2026-11-26 09:00Z', '2026-11-26 09:00Z'),
                (2, '2026-11-26 10:00Z', '2026-11-26 10:00Z'),
                (3, '2026-11-26 11:00Z', '2026-11-26 11:00Z'),
                (9, '2026-11-25 11:00Z', '2026-11-25 11:00Z');
            insert into reports.rpt values
                ('QS1', 1, 10.5, 'run-a'), ('QS2', 2, 20, 'run-a'), ('QS3', 3, 30, 'run-a'),
                ('QS9', 9, 90, 'run-0');
            """
        )
        registry.ensure_schema(c)
        c.commit()
        yield c


def _register(c: psycopg.Connection[Any], plan: ledger.Plan, seq: int) -> int:
    """Register a fake file for the plan; Cxls first, then News in TxId order (as sent)."""
    shas = dict(
        c.execute(f"select tx_id, {ledger.record_hash_sql('r')} from {REPORT} as r").fetchall()
    )
    entries = [ledger.LedgerEntry(t, e, ledger.CANCEL, None) for t, e in plan.cancels]
    entries += [ledger.LedgerEntry(t, int(t[2:]), ledger.NEW, shas[t]) for t in sorted(plan.news)]
    row = registry.register(
        c,
        report_type="mifir_rts22",
        period_start=date(2026, 11, 26),
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
    return row.report_id


def _plan(c: psycopg.Connection[Any], exclude: tuple[int, ...] = ()) -> ledger.Plan:
    return ledger.plan(
        c,
        report_table=REPORT,
        scope_sql=SCOPE,
        scope_params=BOUNDS,
        withdrawn_sql=WITHDRAWN,
        exclude_report_ids=exclude,
    )


@pytest.mark.integration
def test_first_run_reports_the_scope_only(conn: psycopg.Connection[Any]) -> None:
    plan = _plan(conn)
    # Execution 9 traded and last changed on the 25th: not in the 26th's scope.
    assert plan.news == {"QS1", "QS2", "QS3"}
    assert plan.cancels == []
    assert plan.record_count == 3


@pytest.mark.integration
def test_unchanged_amended_cancelled_and_replay(conn: psycopg.Connection[Any]) -> None:
    first = _register(conn, _plan(conn), 1)
    again = _plan(conn)
    assert (again.record_count, again.unchanged) == (0, 3)

    # Lineage changes (a rerun's extract id) are not content changes.
    conn.execute(f"update {REPORT} set extract_run_id = 'run-b'")
    assert _plan(conn).unchanged == 3

    # Amend QS2's price, drop QS3 (busted: the source withdrew it): Cxl QS2 + New QS2, Cxl QS3.
    conn.execute(f"update {REPORT} set price = 21 where tx_id = 'QS2'")
    conn.execute(f"delete from {REPORT} where tx_id = 'QS3'")
    conn.execute("insert into raw.withdrawn values (3)")
    plan = _plan(conn)
    assert plan.cancels == [("QS2", 2), ("QS3", 3)]
    assert plan.news == {"QS2"}
    assert plan.amended == {"QS2"}
    assert plan.unchanged == 1

    # Replaying against the ledger without submission 1 gives submission 1's content again,
    # as of the current rows: a rerun is recognised by comparing the rendered bytes.
    replay = _plan(conn, exclude=(first,))
    assert replay.news == {"QS1", "QS2"}
    assert replay.cancels == []

    second = _register(conn, plan, 2)
    history = ledger.history(conn, "QS2")
    assert [h["action"] for h in history] == ["NEWT", "CANC", "NEWT"]
    assert [h["report_id"] for h in history] == [first, second, second]
    original = history[0]["entry_id"]
    assert history[1]["original_entry_id"] == original == history[2]["original_entry_id"]
    assert history[1]["supersedes_entry_id"] == original
    assert history[2]["supersedes_entry_id"] == history[1]["entry_id"]
    assert _plan(conn).record_count == 0

    # The cancelled QS3 comes back (source fixed): a New, linked to its first report.
    conn.execute(f"insert into {REPORT} values ('QS3', 3, 30, 'run-c')")
    conn.execute("delete from raw.withdrawn")
    plan = _plan(conn)
    assert plan.news == {"QS3"}
    assert plan.cancels == []
    _register(conn, plan, 3)
    qs3 = ledger.history(conn, "QS3")
    assert [h["action"] for h in qs3] == ["NEWT", "CANC", "NEWT"]
    assert qs3[2]["original_entry_id"] == qs3[0]["entry_id"]


@pytest.mark.integration
def test_correction_of_an_earlier_period_is_in_scope(conn: psycopg.Connection[Any]) -> None:
    # Execution 9 (traded on the 25th) was reported then; it is amended on the 26th.
    entries = [ledger.LedgerEntry("QS9", 9, ledger.NEW, "0" * 64)]
    registry.register(
        conn,
        report_type="mifir_rts22",
        period_start=date(2026, 11, 25),
        period_end=date(2026, 11, 26),
        file_name="f25.xml",
        sha256="9" * 64,
        record_count=1,
        size=1,
        status="ARCHIVED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest=json.loads("{}"),
        dag_run_id=None,
        ledger_entries=entries,
    )
    conn.execute(
        "update raw.executions set updated_at = '2026-11-26 12:00Z' where execution_id = 9"
    )
    plan = _plan(conn)
    assert plan.cancels == [("QS9", 9)]
    assert plan.news == {"QS1", "QS2", "QS3", "QS9"}
    assert plan.amended == {"QS9"}


@pytest.mark.integration
def test_identical_file_registers_once_and_writes_no_ledger_twice(
    conn: psycopg.Connection[Any],
) -> None:
    plan = _plan(conn)
    _register(conn, plan, 1)
    _register(conn, plan, 1)  # same sha256: the registry keeps one row
    count = conn.execute("select count(*) from regreport.transaction_ledger").fetchone()
    assert count == (3,)
    latest = registry.latest_submission(conn, "mifir_rts22", date(2026, 11, 26))
    assert latest is not None
    assert latest.submission_seq == 1
    assert len(latest.report_ids) == 1


@pytest.mark.integration
def test_a_reported_transaction_that_now_fails_a_rule_is_held_not_cancelled(
    conn: psycopg.Connection[Any],
) -> None:
    """A bad source value on a reported execution: its report row is gone (quarantined).

    Eligibility still says reportable, so nothing may be cancelled (the planted client,
    counterparty and instrument defects run through the whole DAG in tests/e2e).
    """
    _register(conn, _plan(conn), 1)
    conn.execute(f"delete from {REPORT} where tx_id = 'QS2'")  # quarantined, not withdrawn
    plan = _plan(conn)
    assert plan.cancels == []
    assert plan.news == set()
    assert plan.held == [("QS2", 2)]
    assert plan.record_count == 0
    # Fixed in the source with a changed value: the usual amendment, Cxl + New.
    conn.execute(f"insert into {REPORT} values ('QS2', 2, 20.5, 'run-b')")
    fixed = _plan(conn)
    assert fixed.cancels == [("QS2", 2)]
    assert fixed.news == {"QS2"}
    assert fixed.amended == {"QS2"}
    assert fixed.held == []
    # Fixed back to the very content sent: nothing to send at all.
    conn.execute(f"update {REPORT} set price = 20 where tx_id = 'QS2'")
    assert _plan(conn).record_count == 0


@pytest.mark.integration
def test_a_never_reported_quarantined_execution_is_neither_held_nor_cancelled(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute(f"delete from {REPORT} where tx_id = 'QS3'")
    plan = _plan(conn)
    assert plan.news == {"QS1", "QS2"}
    assert (plan.cancels, plan.held) == ([], [])
