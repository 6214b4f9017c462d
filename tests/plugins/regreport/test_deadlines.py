"""Report deadlines: due instants by hand, and a week of MiFIR days with one late report.

The integration scenario is built in a scratch warehouse exactly as the pipeline leaves it
(files registered with their ledger entries, marked submitted, answered by status advices;
run metrics of a day with nothing to file). The alerts go to a log file and to a real
webhook receiver on loopback.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import alerts, deadlines, ledger, reconciliation, registry, runlog, submissions
from regreport.calendar import calendar_for, day_period, month_period, quarter_period
from regreport.deadlines import RULES
from regreport.feedback import RecordStatus, StatusAdvice, ValidationRule

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

DB = "deadlines_test_regreport"
MIFIR = RULES["mifir_rts22"]
TARGET2 = calendar_for("TARGET2", {})
US = calendar_for("US", {})
DUP = ValidationRule("CON-023", "Transaction report with the same TRN already sent")


# -- due instants, by hand ------------------------------------------------------------------


@pytest.mark.unit
def test_mifir_is_due_at_the_close_of_the_next_working_day() -> None:
    # Thursday 26 Nov 2026: due by the close of Friday 27, late from Saturday 00:00 UTC.
    thu = MIFIR.deadline(day_period(date(2026, 11, 26)), TARGET2)
    assert thu == datetime(2026, 11, 28, tzinfo=UTC)
    # Friday 27 Nov: the next working day is Monday 30, late from Tuesday 1 Dec.
    assert MIFIR.deadline(day_period(date(2026, 11, 27)), TARGET2) == datetime(
        2026, 12, 1, tzinfo=UTC
    )
    # Maundy Thursday 2 Apr 2026: Good Friday and Easter Monday are closed, due Tue 7 Apr.
    assert MIFIR.deadline(day_period(date(2026, 4, 2)), TARGET2) == datetime(2026, 4, 8, tzinfo=UTC)


@pytest.mark.unit
def test_monthly_deadlines() -> None:
    november = month_period(date(2026, 11, 1))
    # Rule 605: within one month after the month, i.e. by the close of 31 December.
    assert RULES["execution_quality"].deadline(november, US) == datetime(2027, 1, 1, tzinfo=UTC)
    # 10 US business days after 30 Nov: 1-4, 7-11, 14 Dec (no holiday in between).
    assert RULES["large_trader_monthly"].deadline(november, US) == datetime(
        2026, 12, 15, tzinfo=UTC
    )
    # December 2026: 10 business days after 31 Dec skip New Year's Day (Fri 1 Jan 2027).
    december = month_period(date(2026, 12, 1))
    assert RULES["large_trader_monthly"].deadline(december, US) == datetime(2027, 1, 16, tzinfo=UTC)
    assert RULES["execution_quality"].deadline(december, US) == datetime(2027, 2, 1, tzinfo=UTC)
    # The quarterly review: a month after the quarter, i.e. by the close of 31 January.
    q4 = quarter_period(date(2026, 10, 1))
    assert RULES["execution_quality_quarterly"].deadline(q4, US) == datetime(2027, 2, 1, tzinfo=UTC)


@pytest.mark.unit
def test_the_window() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert deadlines.window(now, {}) == date(2026, 11, 22)
    assert deadlines.window(now, {deadlines.LOOKBACK_ENV: "3"}) == date(2026, 11, 29)
    start = {deadlines.REPORTING_START_ENV: "2026-11-30"}
    assert deadlines.window(now, start) == date(2026, 11, 30)
    with pytest.raises(ValueError, match="REGREPORT_REPORTING_START"):
        deadlines.window(now, {deadlines.REPORTING_START_ENV: "30/11/2026"})
    with pytest.raises(ValueError, match="positive"):
        deadlines.window(now, {deadlines.LOOKBACK_ENV: "0"})


# -- a week of MiFIR days ----------------------------------------------------------------------


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    dsn = scratch_db(DB)
    with psycopg.connect(dsn) as c:
        reconciliation.ensure_schema(c)
        submissions.ensure_schema(c)
        runlog.ensure_schema(c)
        alerts.ensure_schema(c)
        c.execute("create schema reports")
        c.execute(
            f"create table {reconciliation.REPORT_TABLE} (tx_id text, execution_id bigint,"
            " trading_date date, price numeric, extract_run_id text)"
        )
        c.commit()
        yield c


def _file(c: psycopg.Connection[Any], day: date, *tx_ids: str) -> int:
    for tx in tx_ids:
        c.execute(
            f"insert into {reconciliation.REPORT_TABLE} values (%s, %s, %s, 100, 'run-1')",
            (tx, int(tx[2:]), day),
        )
    entries = [
        ledger.LedgerEntry(tx, int(tx[2:]), ledger.NEW, hashlib.sha256(tx.encode()).hexdigest())
        for tx in tx_ids
    ]
    name = f"F_{day:%Y%m%d}.xml"
    return registry.register(
        c,
        report_type="mifir_rts22",
        period_start=day,
        period_end=day,
        file_name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        record_count=len(entries),
        size=1,
        status="ARCHIVED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest={},
        dag_run_id=None,
        ledger_entries=entries,
    ).report_id


def _submit(c: psycopg.Connection[Any], report_id: int, at: datetime) -> str:
    remote = f"remote-{report_id}.xml"
    submissions.mark_submitted(c, report_id, remote, submitted_at=at)
    return remote


def _answer(c: psycopg.Connection[Any], remote: str, status: str, *records: RecordStatus) -> None:
    submissions.apply_feedback(
        c,
        StatusAdvice(
            index=0,
            message_report_id=remote,
            status=status,
            rules=(),
            statistics=None,
            records=records,
            business_message_id=None,
            related_message_id=None,
            source_sha256=hashlib.sha256(f"{remote}-{status}".encode()).hexdigest(),
        ),
    )


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012 - shared with the test

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Receiver.received
    server.shutdown()


@pytest.mark.integration
def test_a_late_report_raises_its_alert_once(
    conn: psycopg.Connection[Any], tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    c = conn
    # Mon 23 Nov: sent Tuesday morning, accepted. On time.
    f23 = _file(c, date(2026, 11, 23), "QS2301", "QS2302")
    _answer(c, _submit(c, f23, datetime(2026, 11, 24, 10, tzinfo=UTC)), "ACPT")
    # Tue 24 Nov: no trades; the run finished on Wednesday with nothing to file.
    runlog.record(
        c,
        runlog.StepMetric(
            run_id="scheduled__2026-11-25T06:00:00+00:00",
            dag_id="mifir_transactions_daily",
            step="register_report",
            state="success",
            report="mifir_rts22",
            period_start=date(2026, 11, 24),
            period_end=date(2026, 11, 24),
            started_at=datetime(2026, 11, 25, 6, 9, tzinfo=UTC),
            finished_at=datetime(2026, 11, 25, 6, 10, tzinfo=UTC),
            records_out=0,
        ),
    )
    # Wed 25 Nov: nothing at all (the run never happened).
    # Thu 26 Nov, the deliberately late report: due by Sat 00:00 UTC, sent Sat 09:00.
    f26 = _file(c, date(2026, 11, 26), "QS2601")
    _answer(c, _submit(c, f26, datetime(2026, 11, 28, 9, tzinfo=UTC)), "ACPT")
    # Fri 27 Nov: sent Monday evening (on time), one of two records rejected.
    f27 = _file(c, date(2026, 11, 27), "QS2701", "QS2702")
    _answer(
        c,
        _submit(c, f27, datetime(2026, 11, 30, 18, tzinfo=UTC)),
        "PART",
        RecordStatus("QS2702", "RJCT", (DUP,)),
    )
    # Mon 30 Nov: generated, never sent.
    _file(c, date(2026, 11, 30), "QS3001")
    c.commit()

    now = datetime(2026, 12, 2, 12, tzinfo=UTC)  # Tuesday 1 Dec is not due until Thu 00:00
    found = deadlines.check(c, now, since=date(2026, 11, 23), rules=[MIFIR], environ={})
    assert [(s.period.label, s.state, s.detail) for s in found] == [
        ("2026-11-23", "ON_TIME", "2 records accepted on time"),
        ("2026-11-24", "NOTHING_TO_FILE", "run finished at 2026-11-25 06:10 UTC, nothing to file"),
        ("2026-11-25", "NOT_SUBMITTED", "no report generated"),
        ("2026-11-26", "NOT_SUBMITTED", "submitted to the regulator late, at 2026-11-28 09:00 UTC"),
        (
            "2026-11-27",
            "NOT_ACCEPTED",
            "1 of 2 records not accepted by the deadline"
            " (1 rejected, 0 pending, 0 unanswered, 0 accepted late)",
        ),
        ("2026-11-30", "NOT_SUBMITTED",
         "generated (1 file(s)) but never submitted to the regulator"),
    ]  # fmt: skip
    late = next(s.alert for s in found if s.period.label == "2026-11-26")
    assert late is not None
    assert late.key == "deadline_not_submitted:mifir_rts22:2026-11-26"
    assert late.deadline == datetime(2026, 11, 28, tzinfo=UTC)
    assert late.reason == (
        "MiFIR transaction report for 2026-11-26 was not submitted to the regulator by"
        " 2026-11-28 00:00 UTC: submitted to the regulator late, at 2026-11-28 09:00 UTC"
    )

    url, received = webhook
    log_file = tmp_path / "alerts.log"
    channels = [alerts.LogFileNotifier(log_file), alerts.WebhookNotifier(url)]
    missed = [s.alert for s in found if s.alert is not None]
    for alert in missed:
        outcome = alerts.raise_alert(c, alert, channels, now=now)
        assert sorted(outcome.sent) == ["log", "webhook"]
    logged = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(a["kind"], a["period"]) for a in logged] == [
        ("deadline_not_submitted", "2026-11-25"),
        ("deadline_not_submitted", "2026-11-26"),
        ("deadline_not_accepted", "2026-11-27"),
        ("deadline_not_submitted", "2026-11-30"),
    ]
    assert [a["period"] for a in received] == [
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
        "2026-11-30",
    ]
    # Fifteen minutes later the same breaches are found again, and nobody is told twice.
    again = deadlines.check(c, now.replace(minute=15), since=date(2026, 11, 23), rules=[MIFIR],
                            environ={})  # fmt: skip
    for status in again:
        if status.alert is not None:
            assert alerts.raise_alert(c, status.alert, channels, now=now).sent == ()
    assert len(log_file.read_text().splitlines()) == 4
    assert len(received) == 4


@pytest.mark.integration
def test_books_and_records_are_due_archived(conn: psycopg.Connection[Any]) -> None:
    c = conn
    rule = RULES["positions"]
    for day, at in ((date(2026, 11, 23), datetime(2026, 11, 24, 2, 5, tzinfo=UTC)),
                    (date(2026, 11, 24), datetime(2026, 11, 26, 2, 5, tzinfo=UTC))):  # fmt: skip
        report_id = registry.register(
            c,
            report_type="positions",
            period_start=day,
            period_end=day,
            file_name=f"POSITIONS_{day:%Y%m%d}.csv",
            sha256=hashlib.sha256(str(day).encode()).hexdigest(),
            record_count=1,
            size=1,
            status="ARCHIVED",
            s3_uri=None,
            s3_version_id=None,
            retain_until=None,
            manifest={},
            dag_run_id=None,
        ).report_id
        c.execute(
            "update regreport.report_registry set created_at = %s where report_id = %s",
            (at, report_id),
        )
    c.commit()
    # 26 Nov is Thanksgiving in the US calendar: 25 Nov is due by the close of 27 Nov, and
    # so is Thanksgiving itself (a weekday: the DAG runs, a venue abroad may have traded).
    now = datetime(2026, 11, 28, tzinfo=UTC)
    found = deadlines.check(c, now, since=date(2026, 11, 23), rules=[rule], environ={})
    assert [(s.period.label, s.state, s.deadline.date()) for s in found] == [
        ("2026-11-23", "ON_TIME", date(2026, 11, 25)),
        ("2026-11-24", "NOT_SUBMITTED", date(2026, 11, 26)),
        ("2026-11-25", "NOT_SUBMITTED", date(2026, 11, 28)),
        ("2026-11-26", "NOT_SUBMITTED", date(2026, 11, 28)),
    ]
    assert found[1].detail == "archived late, at 2026-11-26 02:05 UTC"


@pytest.mark.integration
def test_the_window_is_on_deadlines(conn: psycopg.Connection[Any]) -> None:
    """November's large trader report falls due on 15 December, the third quarter's review on
    1 November: checks ten days later still see them, though the periods began long before."""
    monthly, quarterly = RULES["large_trader_monthly"], RULES["execution_quality_quarterly"]
    found = deadlines.check(conn, datetime(2026, 12, 20, tzinfo=UTC), rules=[monthly], environ={})
    assert [(s.period.label, s.state, s.deadline) for s in found] == [
        ("2026-11", "NOT_SUBMITTED", datetime(2026, 12, 15, tzinfo=UTC))
    ]
    found = deadlines.check(conn, datetime(2026, 11, 5, tzinfo=UTC), rules=[quarterly], environ={})
    assert [(s.period.label, s.state) for s in found] == [("2026-Q3", "NOT_SUBMITTED")]
    # Ten days after the window, they are no longer looked at (they were alerted then).
    late = deadlines.check(conn, datetime(2026, 12, 26, tzinfo=UTC), rules=[monthly], environ={})
    assert late == []
    # Nor before the first day the platform files for.
    env = {deadlines.REPORTING_START_ENV: "2026-12-01"}
    assert (
        deadlines.check(conn, datetime(2026, 12, 20, tzinfo=UTC), rules=[monthly], environ=env)
        == []
    )
