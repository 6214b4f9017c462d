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
            create schema raw; create schema reports; create schema intermediate;
            create table intermediate.int_mifir__eligibility (
                execution_id bigint, executed_at timestamptz, is_reportable boolean,
                not_reportable_reason text);
            create table raw.qsuite_executions (execution_id bigint, executed_at timestamptz);
            create table reports.rpt_mifir_rts22_transactions (
                execution_id bigint, trading_datetime timestamptz);
            create table reports.rpt_mifir_rts22_quarantine (
                execution_id bigint, executed_at timestamptz, reason_code text, reason_text text);
            insert into raw.qsuite_executions values
                (1, '2026-11-26 09:00Z'), (2, '2026-11-26 10:00Z'), (3, '2026-11-26 23:59Z'),
                (4, '2026-11-27 00:00Z');
            -- Execution 1 is a matched-principal fill: two records (market and client side).
            insert into reports.rpt_mifir_rts22_transactions values
                (1, '2026-11-26 09:00Z'), (1, '2026-11-26 09:00Z'), (2, '2026-11-26 10:00Z');
            insert into reports.rpt_mifir_rts22_quarantine values
                (3, '2026-11-26 23:59Z', 'INSTRUMENT_ISIN_MISSING', 'no ISIN');
            insert into raw.qsuite_executions values (5, '2026-11-26 12:00Z');
            insert into intermediate.int_mifir__eligibility values
                (1, '2026-11-26 09:00Z', true, null), (2, '2026-11-26 10:00Z', true, null),
                (3, '2026-11-26 23:59Z', true, null),
                (5, '2026-11-26 12:00Z', false, 'INSTRUMENT_OUT_OF_SCOPE');
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
        # Execution 4 is at 00:00 on the 27th: outside the period. 4 = 2 + 1 + 1 (execution 5);
        # execution 1's two records count once.
        assert result["counts"] == {
            "source_executions": 4,
            "reported": 2,
            "quarantined": 1,
            "not_reportable": 1,
        }
        assert result["not_reportable"] == {"INSTRUMENT_OUT_OF_SCOPE": 1}
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
        with pytest.raises(
            ReconciliationError,
            match="source 4 != reported 2 \\+ quarantined 0 \\+ not reportable 1",
        ):
            reconcile(conn, start, end)
