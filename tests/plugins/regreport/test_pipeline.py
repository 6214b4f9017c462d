from __future__ import annotations

from datetime import date

import pytest

from regreport.pipeline import archive_key, redact, report_file_name


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
def test_file_name_and_archive_key() -> None:
    name = report_file_name("969500QSUITE04921638", date(2026, 11, 26))
    assert name == "MIFIR_RTS22_969500QSUITE04921638_20261126_001.xml"
    built = {
        "report_type": "mifir_rts22",
        "period_start": "2026-11-26T00:00:00+00:00",
        "sha256": "ab" * 32,
        "file_name": name,
    }
    assert archive_key(built) == f"mifir_rts22/2026/11/26/{'ab' * 32}/{name}"


@pytest.fixture
def recon_db(pg_services):
    """A scratch warehouse with the three tables reconcile() reads."""
    import dataclasses

    import psycopg

    name = "regreport_recon_test"
    with psycopg.connect(pg_services.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name}")
        admin.execute(f"create database {name}")
    settings = dataclasses.replace(pg_services, warehouse_db=name)
    with psycopg.connect(settings.dsn(name)) as conn:
        conn.execute(
            """
            create schema raw; create schema reports;
            create table raw.qsuite_executions (execution_id bigint, executed_at timestamptz);
            create table reports.rpt_mifir_rts22_transactions (
                execution_id bigint, trading_datetime timestamptz);
            create table reports.rpt_mifir_rts22_quarantine (
                execution_id bigint, executed_at timestamptz, reason_code text, reason_text text);
            insert into raw.qsuite_executions values
                (1, '2026-11-26 09:00Z'), (2, '2026-11-26 10:00Z'), (3, '2026-11-26 23:59Z'),
                (4, '2026-11-27 00:00Z');
            insert into reports.rpt_mifir_rts22_transactions values
                (1, '2026-11-26 09:00Z'), (2, '2026-11-26 10:00Z');
            insert into reports.rpt_mifir_rts22_quarantine values
                (3, '2026-11-26 23:59Z', 'INSTRUMENT_ISIN_MISSING', 'no ISIN');
            """
        )
    yield settings.dsn(name)
    with psycopg.connect(pg_services.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name}")


@pytest.mark.integration
def test_reconcile_counts_and_fails_loudly(recon_db: str) -> None:
    from datetime import UTC, datetime

    import psycopg

    from regreport.pipeline import ReconciliationError, reconcile

    start, end = datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    with psycopg.connect(recon_db) as conn:
        result = reconcile(conn, start, end)
        # Execution 4 is at 00:00 on the 27th: outside the period.
        assert result["counts"] == {
            "source_executions": 3,
            "reported": 2,
            "quarantined": 1,
            "not_reportable": 0,
        }
        assert result["quarantine"] == [
            {
                "reason_code": "INSTRUMENT_ISIN_MISSING",
                "reason": "no ISIN",
                "count": 1,
                "execution_ids": [3],
            }
        ]
        # An execution that is neither reported nor quarantined: the run must stop.
        conn.execute("delete from reports.rpt_mifir_rts22_quarantine")
        with pytest.raises(ReconciliationError, match="source 3 != reported 2 \\+ quarantined 0"):
            reconcile(conn, start, end)
