from __future__ import annotations

from datetime import date

import pytest

from regreport.pipeline import archive_key, redact


@pytest.mark.unit
def test_redact_hides_quoted_values_only() -> None:
    message = (
        "Element '{urn:iso:std:iso:20022:tech:xsd:auth.016.001.01}Id': [facet 'pattern'] "
        "The value 'FR19800517MARIE#DUPON' is not accepted by the pattern '[A-Z]{2}'."
    )
    out = redact(message)
    assert "MARIE" not in out
    assert "}Id'" in out
    assert "[facet 'pattern']" in out


@pytest.mark.unit
def test_archive_key_is_content_addressed() -> None:
    name = "MIFIR_RTS22_969500QSUITE04921638_20261126_S001_P01.xml"
    built = {"report_type": "mifir_rts22", "period_start": "2026-11-26T00:00:00+00:00"}
    file = {"sha256": "ab" * 32, "file_name": name}
    assert archive_key(built, file) == f"mifir_rts22/2026/11/26/{'ab' * 32}/{name}"
    assert date(2026, 11, 26).strftime("%Y/%m/%d") in archive_key(built, file)


@pytest.fixture
def recon_db(pg_services):
    """A scratch warehouse with the tables reconcile() reads, and the ledger.

    Executions (id: executed, updated; what the run makes of it), period = the 26th:
    1 09:00 reported (matched principal: two records), 2 10:00 reported, 3 23:59 quarantined,
    4 27th 00:00 (not in the scope), 5 12:00 not reportable, 6 traded on the 25th and corrected
    on the 26th: reported, 7 a future trade time (3 Dec) written on the 26th: quarantined,
    8 13:00 held twice by the source (two copies): quarantined, 9 14:00 reported on an earlier
    run and quarantined now: an amendment held.
    """
    import dataclasses

    import psycopg

    from regreport import ledger, registry

    name = "regreport_recon_test"
    with psycopg.connect(pg_services.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name}")
        admin.execute(f"create database {name}")
    settings = dataclasses.replace(pg_services, warehouse_db=name)
    with psycopg.connect(settings.dsn(name)) as conn:
        conn.execute(
            """
            create schema raw; create schema reports; create schema intermediate;
            create table intermediate.int_mifir__eligibility (
                execution_id bigint, executed_at timestamptz, is_reportable boolean,
                not_reportable_reason text);
            create table raw.qsuite_executions (execution_id bigint, executed_at timestamptz,
                updated_at timestamptz, _source_copies integer not null default 1);
            create table reports.rpt_mifir_rts22_transactions (
                execution_id bigint, trading_datetime timestamptz);
            create table reports.rpt_mifir_rts22_quarantine (
                execution_id bigint, executed_at timestamptz, reason_code text, reason_text text,
                source_rows integer);
            insert into raw.qsuite_executions values
                (1, '2026-11-26 09:00Z', '2026-11-26 09:00Z', 1),
                (2, '2026-11-26 10:00Z', '2026-11-26 10:00Z', 1),
                (3, '2026-11-26 23:59Z', '2026-11-26 23:59Z', 1),
                (4, '2026-11-27 00:00Z', '2026-11-27 00:00Z', 1),
                (5, '2026-11-26 12:00Z', '2026-11-26 12:00Z', 1),
                (6, '2026-11-25 15:00Z', '2026-11-26 08:00Z', 1),
                (7, '2026-12-03 11:00Z', '2026-11-26 11:00Z', 1),
                (8, '2026-11-26 13:00Z', '2026-11-26 13:00Z', 2),
                (9, '2026-11-26 14:00Z', '2026-11-26 14:00Z', 1);
            insert into reports.rpt_mifir_rts22_transactions values
                (1, '2026-11-26 09:00Z'), (1, '2026-11-26 09:00Z'), (2, '2026-11-26 10:00Z'),
                (6, '2026-11-25 15:00Z');
            insert into reports.rpt_mifir_rts22_quarantine values
                (3, '2026-11-26 23:59Z', 'INSTRUMENT_ISIN_MISSING', 'no ISIN', 1),
                (7, '2026-12-03 11:00Z', 'TRADE_TIME_AFTER_PERIOD', 'future', 1),
                (8, '2026-11-26 13:00Z', 'DUPLICATE_EXECUTION_ID', 'twice', 2),
                (9, '2026-11-26 14:00Z', 'RR-LEI-002', 'LEI check digits', 1);
            insert into intermediate.int_mifir__eligibility values
                (1, '2026-11-26 09:00Z', true, null), (2, '2026-11-26 10:00Z', true, null),
                (3, '2026-11-26 23:59Z', true, null),
                (5, '2026-11-26 12:00Z', false, 'INSTRUMENT_OUT_OF_SCOPE'),
                (6, '2026-11-25 15:00Z', true, null), (7, '2026-12-03 11:00Z', true, null),
                (8, '2026-11-26 13:00Z', true, null), (9, '2026-11-26 14:00Z', true, null);
            """
        )
        registry.ensure_schema(conn)
        registry.register(
            conn,
            report_type="mifir_rts22",
            period_start=date(2026, 11, 26),
            period_end=date(2026, 11, 27),
            file_name="f1.xml",
            sha256="1" * 64,
            record_count=1,
            size=1,
            status="ARCHIVED",
            s3_uri=None,
            s3_version_id=None,
            retain_until=None,
            manifest={},
            dag_run_id=None,
            ledger_entries=[ledger.LedgerEntry("QS9", 9, ledger.NEW, "9" * 64)],
        )
        conn.commit()
    yield settings.dsn(name)
    with psycopg.connect(pg_services.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name}")


@pytest.mark.integration
def test_reconcile_counts_every_execution_read_and_fails_loudly(recon_db: str) -> None:
    from datetime import UTC, datetime

    import psycopg

    from regreport.pipeline import ReconciliationError, held_amendments, reconcile

    start, end = datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    with psycopg.connect(recon_db) as conn:
        result = reconcile(conn, start, end)
        # Read: 1 2 3 5 6 7 8 (two source rows) 9 = 9 rows; 4 is in the next day's scope.
        # Reported 1 2 6 (1's two records count once); quarantined 3 7 8 8 9; not reportable 5.
        assert result["counts"] == {
            "source_executions": 9,
            "reported": 3,
            "quarantined": 5,
            "not_reportable": 1,
        }
        assert result["scope"] == {"traded_in_period": 6, "traded_earlier": 1, "traded_later": 1}
        assert result["not_reportable"] == {"INSTRUMENT_OUT_OF_SCOPE": 1}
        assert [
            (q["reason_code"], q["count"], q["amendments_held"], q["execution_ids"])
            for q in result["quarantine"]
        ] == [
            ("DUPLICATE_EXECUTION_ID", 2, 0, [8]),
            ("INSTRUMENT_ISIN_MISSING", 1, 0, [3]),
            ("RR-LEI-002", 1, 1, [9]),
            ("TRADE_TIME_AFTER_PERIOD", 1, 0, [7]),
        ]
        conn.execute("alter table reports.rpt_mifir_rts22_quarantine add column trading_date date")
        conn.execute(
            "alter table reports.rpt_mifir_rts22_quarantine add column reason_codes text[]"
        )
        conn.execute(
            "update reports.rpt_mifir_rts22_quarantine"
            " set trading_date = '2026-11-26', reason_codes = array[reason_code]"
        )
        held = held_amendments(conn)
        assert [(h["tx_id"], h["execution_id"], h["reason_codes"]) for h in held] == [
            ("QS9", 9, ["RR-LEI-002"])
        ]
        # A copy of a duplicated id that is nowhere: the run must stop.
        conn.execute("update reports.rpt_mifir_rts22_quarantine set source_rows = 1")
        with pytest.raises(
            ReconciliationError,
            match="source 9 != reported 3 \\+ quarantined 4 \\+ not reportable 1",
        ):
            reconcile(conn, start, end)


@pytest.mark.unit
def test_a_period_that_has_not_ended_is_refused(monkeypatch) -> None:
    from datetime import UTC, datetime

    from regreport.pipeline import ALLOW_OPEN_PERIOD_ENV, PeriodNotEndedError, require_ended

    monkeypatch.delenv(ALLOW_OPEN_PERIOD_ENV, raising=False)
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    require_ended(datetime(2026, 12, 7, tzinfo=UTC), now)  # yesterday's period: over
    with pytest.raises(PeriodNotEndedError, match="2026-12-08 00:00 UTC has not ended yet"):
        require_ended(datetime(2026, 12, 8, tzinfo=UTC), now)
    monkeypatch.setenv(ALLOW_OPEN_PERIOD_ENV, "1")
    require_ended(datetime(2026, 12, 8, tzinfo=UTC), now)
