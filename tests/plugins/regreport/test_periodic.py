"""Rendering, archiving and registering the periodic reports, against real PostgreSQL and S3.

A scratch warehouse holds hand-made report rows (the dbt models are tested in
tests/dbt/test_periodic_models.py); the files they give are written out here byte for byte.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import audit, periodic
from regreport.archive import s3_client
from regreport.manifest import sha256_file
from regreport.pipeline import archive

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from regreport.config import Settings

pytestmark = pytest.mark.integration

DAY = date(2026, 5, 4)
LEI = "QSUITEFIRM0000000017"
#: Reused across runs (locked buckets cannot be removed); keys are content-addressed.
BUCKET = "test-periodic"

WAREHOUSE_SQL = f"""
create schema staging;
create view staging.stg_qsuite__firm as select '{LEI}'::text as firm_lei;
create schema reports;
create table reports.rpt_positions (
    business_date date, account_id text, instrument_id integer, isin text,
    instrument_type text, net_quantity numeric(18, 4), average_price numeric,
    cost_basis numeric, currency text, opening_quantity numeric, bought_quantity numeric,
    sold_quantity numeric, fills integer);
insert into reports.rpt_positions values
    ('2026-05-04', 'B2', 7, null, 'SHARE', -20.0000, 12.00000000, -240.000000, 'EUR',
     100, 30, 150, 2),
    ('2026-05-04', 'A1', 7, 'DE0007164600', 'SHARE', 100.0000, 11.00000000, 1100.000000,
     'EUR', 0, 150, 50, 4),
    ('2026-05-04', 'A1', 9, 'DE0001102580', 'BOND', 0.0000, null, 0.000000, 'EUR',
     -10000, 10000, 0, 1),
    ('2026-05-05', 'A1', 7, 'DE0007164600', 'SHARE', 1.0000, 1.00000000, 1.000000, 'EUR',
     0, 1, 0, 1);
create table reports.rpt_large_trader_daily (
    business_date date, discretion_group_id text, large_trader_id text,
    daily_shares numeric, pct_monthly_value numeric, alert_level text,
    unidentified_large_trader boolean);
insert into reports.rpt_large_trader_daily values
    ('2026-05-04', 'G1', null, 1100, 81.12, 'THRESHOLD', true),
    ('2026-05-04', 'G2', '12345678-0001', 900, 12.00, 'WARNING', false),
    ('2026-05-04', 'G3', null, 10, 0.10, 'NONE', false);
create schema marts;
create table marts.fct_executions (trading_date date, execution_status text);
insert into marts.fct_executions values
    ('2026-05-04', 'LIVE'), ('2026-05-05', 'LIVE'), ('2026-05-06', 'CANCELLED'),
    ('2026-05-07', 'LIVE'), ('2026-06-01', 'LIVE');
create table marts.fct_positions_daily (business_date date);
insert into marts.fct_positions_daily values ('2026-05-04'), ('2026-05-07');
"""

#: What the position CSV must be: rows in account, instrument order; numerics as stored.
POSITIONS_CSV = (
    "business_date,account_id,instrument_id,isin,instrument_type,net_quantity,average_price,"
    "cost_basis,currency,opening_quantity,bought_quantity,sold_quantity,fills\n"
    "2026-05-04,A1,7,DE0007164600,SHARE,100.0000,11.00000000,1100.000000,EUR,0,150,50,4\n"
    "2026-05-04,A1,9,DE0001102580,BOND,0.0000,,0.000000,EUR,-10000,10000,0,1\n"
    "2026-05-04,B2,7,,SHARE,-20.0000,12.00000000,-240.000000,EUR,100,30,150,2\n"
)
POSITIONS_XML = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<PosRpt xmlns="urn:qsuite:regreport:positions:1" BizDt="2026-05-04">\n'
    '<Pos Acct="A1" Instrm="7" Qty="100.0000" Ccy="EUR" CostBsis="1100.000000"'
    ' ISIN="DE0007164600" AvgPric="11.00000000"/>\n'
    '<Pos Acct="A1" Instrm="9" Qty="0.0000" Ccy="EUR" CostBsis="0.000000"'
    ' ISIN="DE0001102580"/>\n'
    '<Pos Acct="B2" Instrm="7" Qty="-20.0000" Ccy="EUR" CostBsis="-240.000000"'
    ' AvgPric="12.00000000"/>\n'
    "</PosRpt>"
)


@pytest.fixture
def warehouse(scratch_db: Callable[[str], str]) -> str:
    dsn = scratch_db(f"test_periodic_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(dsn) as conn:
        conn.execute(WAREHOUSE_SQL)  # type: ignore[arg-type]
    return dsn


@pytest.fixture
def local(services: Settings, tmp_path: Path) -> Settings:
    """Files under tmp_path, one day of retention, the test bucket."""
    return dataclasses.replace(
        services, output_dir=tmp_path / "out", s3_bucket=BUCKET, retention_days=1
    )


RUN_IDS = {"extract": "e1", "dbt": "d1", "gx": "g1"}


def test_file_stem_names_the_period() -> None:
    report = periodic.POSITIONS
    assert periodic.file_stem(report, LEI, DAY, date(2026, 5, 5)) == f"POSITIONS_{LEI}_20260504"
    month = periodic.file_stem(periodic.LARGE_TRADER_MONTHLY, LEI, date(2026, 5, 1),
                               date(2026, 6, 1))  # fmt: skip
    assert month == f"LARGE_TRADER_MONTHLY_{LEI}_202605"
    assert periodic.file_stem(report, LEI, DAY, date(2026, 5, 7)).endswith("20260504-20260506")
    quarterly = periodic.EXECUTION_QUALITY_QUARTERLY
    assert periodic.file_stem(quarterly, LEI, date(2026, 10, 1), date(2027, 1, 1)) == (
        f"EXECUTION_QUALITY_QUARTERLY_{LEI}_2026Q4"
    )
    assert periodic.file_stem(quarterly, LEI, date(2026, 4, 1), date(2026, 7, 1)).endswith("2026Q2")
    # Three months that are not a calendar quarter keep their dates.
    assert periodic.file_stem(report, LEI, date(2026, 2, 1), date(2026, 5, 1)).endswith(
        "20260201-20260430"
    )


def test_positions_render_to_exact_csv_and_valid_xml(warehouse: str, local: Settings) -> None:
    built = periodic.render(local, warehouse, periodic.POSITIONS, DAY, date(2026, 5, 5), RUN_IDS)
    csv_file, xml_file = built["files"]
    assert csv_file["file_name"] == f"POSITIONS_{LEI}_20260504.csv"
    assert (local.output_dir / "positions/2026/05/04" / csv_file["file_name"]).read_text() == (
        POSITIONS_CSV
    )
    assert csv_file["record_count"] == 3
    assert csv_file["sha256"] == sha256_file(local.output_dir / "positions/2026/05/04" /
                                             csv_file["file_name"])  # fmt: skip
    xml_path = local.output_dir / "positions/2026/05/04" / xml_file["file_name"]
    assert xml_path.read_text() == POSITIONS_XML
    assert (xml_file["record_count"], xml_file["manifest"]["schema_version"]) == (
        3,
        periodic.XML_LAYOUT,
    )
    # The same rows give the same bytes.
    again = periodic.render(local, warehouse, periodic.POSITIONS, DAY, date(2026, 5, 5), RUN_IDS)
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in built["files"]]


def test_an_invalid_position_report_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(
        '<PosRpt xmlns="urn:qsuite:regreport:positions:1" BizDt="2026-05-04">'
        '<Pos Acct="A1" Instrm="7" Qty="1e3" Ccy="eur" CostBsis="1"/></PosRpt>'
    )
    with pytest.raises(periodic.PositionsXmlInvalidError, match="line 1"):
        periodic.validate_positions_xml(path)


def test_archive_register_rerun_and_correction(
    warehouse: str, local: Settings, s3_services: Settings
) -> None:
    client = s3_client(local)
    end = date(2026, 5, 5)
    built = periodic.render(local, warehouse, periodic.POSITIONS, DAY, end, RUN_IDS)
    stored_first = archive(local, client, built)
    first = periodic.register(warehouse, built, stored_first, "run-1")
    with psycopg.connect(warehouse) as conn:
        seq_before = conn.execute(
            "select coalesce(max(submission_seq), 0) from regreport.report_registry"
            " where report_type = 'positions' and period_start = %s",
            (DAY,),
        ).fetchone()[0]
    assert first["rerun"] is False
    assert [f["new"] for f in first["files"]] == [True, True]
    # A rerun over the same rows: same files, nothing new archived or registered.
    again = periodic.render(local, warehouse, periodic.POSITIONS, DAY, end, RUN_IDS)
    stored = archive(local, client, again)
    assert all(f["already_archived"] for f in stored["files"])
    second = periodic.register(warehouse, again, stored, "run-2")
    assert (second["rerun"], second["submission_seq"]) == (True, first["submission_seq"])
    assert [f["new"] for f in second["files"]] == [False, False]
    # A correction: the next submission, the first one kept.
    with psycopg.connect(warehouse) as conn:
        conn.execute("update reports.rpt_positions set fills = 5 where account_id = 'A1'"
                     " and instrument_id = 7 and business_date = %s", (DAY,))  # fmt: skip
    corrected = periodic.render(local, warehouse, periodic.POSITIONS, DAY, end, RUN_IDS)
    stored_third = archive(local, client, corrected)
    third = periodic.register(warehouse, corrected, stored_third, "run-3")
    assert (third["rerun"], third["submission_seq"]) == (False, seq_before + 1)
    assert [f["new"] for f in third["files"]] == [True, False]
    with psycopg.connect(warehouse) as conn:
        files = conn.execute(
            "select submission_seq, part, file_name from regreport.report_registry"
            " where report_type = 'positions' order by report_id"
        ).fetchall()
        actions = [e.action for e in audit.iter_entries(conn)]
    # Only the CSV changed (the XML has no fill counts): it is the second version of part 1;
    # the XML stays the first version of part 2.
    assert [(s, p) for s, p, _ in files] == [(1, 1), (1, 2), (2, 1)]
    assert actions.count("report.register") == 6  # two files, three runs
    # An upload is audited; the bucket outlives the scratch database, so a file may be there
    # from an earlier test run already (content-addressed keys, never overwritten).
    uploads = [f for s in (stored_first, stored_third) for f in s["files"]]
    assert actions.count("report.archive") == sum(not f["already_archived"] for f in uploads)


def test_large_trader_alerts_are_logged_and_audited(
    warehouse: str, local: Settings, s3_services: Settings
) -> None:
    built = periodic.render(
        local, warehouse, periodic.LARGE_TRADER_DAILY, DAY, date(2026, 5, 5), RUN_IDS
    )
    assert [(a["discretion_group_id"], a["alert_level"]) for a in built["alerts"]] == [
        ("G1", "THRESHOLD"),
        ("G2", "WARNING"),
    ]
    assert built["alerts"][0]["message"] == (
        "THRESHOLD: group G1 (no LTID) at the identifying activity level without an LTID:"
        " an unidentified large trader"
    )
    assert built["alerts"][1]["message"] == (
        "WARNING: group G2 (LTID 12345678-0001) approaching the identifying activity level"
    )
    result = periodic.register(warehouse, built, archive(local, s3_client(local), built), "run-lt")
    assert len(result["alerts"]) == 2
    with psycopg.connect(warehouse) as conn:
        alerts = [e for e in audit.iter_entries(conn) if e.action == "large_trader.alert"]
        assert audit.verify(conn).ok
    assert [(e.object_id, e.after["alert_level"], e.after["unidentified_large_trader"])
            for e in alerts] == [("G1", "THRESHOLD", True), ("G2", "WARNING", False)]  # fmt: skip


def test_a_month_with_a_day_never_built_is_refused(warehouse: str) -> None:
    with psycopg.connect(warehouse) as conn:
        with pytest.raises(periodic.DaysNotBuiltError, match="2026-05-05") as caught:
            periodic.require_days_built(conn, date(2026, 5, 1), date(2026, 6, 1))
        # The 6th only has a busted fill; June is another month.
        assert "1 trading date(s) of 2026-05" in str(caught.value)
        conn.execute("insert into marts.fct_positions_daily values ('2026-05-05')")
        done: dict[str, Any] = periodic.require_days_built(conn, date(2026, 5, 1),
                                                           date(2026, 6, 1))  # fmt: skip
    assert done == {"traded_dates": 3, "built_dates": 3}
