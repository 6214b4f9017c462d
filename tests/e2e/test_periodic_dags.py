"""The periodic report DAGs end to end, through Airflow (`airflow dags test`), on the real services.

Two consecutive business days that the test state never reported are generated and built by
`periodic_reports_daily`, the second one twice (then for two of its reports only), then their
month by `periodic_reports_monthly` and their quarter by `periodic_reports_quarterly`.
The figures are checked against the QSuite source directly, not against the models.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from regreport import archive, audit, local_airflow, registry
from regreport.config import Settings
from regreport.generator import generate
from regreport.timetables import next_business_day

pytestmark = pytest.mark.e2e
DAILY = "periodic_reports_daily"
MONTHLY = "periodic_reports_monthly"
QUARTERLY = "periodic_reports_quarterly"
ORDERS = 300
DAILY_TYPES = ("positions", "daily_trading", "large_trader_daily", "risk_limits")


@pytest.fixture(scope="module")
def prepared(services: Settings) -> Settings:
    local_airflow.prepare(services, log=lambda _line: None)
    return services


def _registered(settings: Settings, report_type: str, day: date) -> list[dict]:
    with psycopg.connect(settings.warehouse_dsn) as conn:
        return [r for r in registry.list_reports(conn, report_type) if r["period_start"] == day]


def _source_trades(settings: Settings, day: date) -> dict[str, tuple[int, Decimal]]:
    """Per currency: live trades of the day and their units, from QSuite itself."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.source_dsn) as conn:
        rows = conn.execute(
            """select e.currency, count(*), sum(e.quantity) from qsuite.executions as e
               where e.executed_at >= %s and e.executed_at < %s
                 and e.status = 'LIVE' and e.exec_kind = 'TRADE'
               group by 1 order by 1""",
            (start, start + timedelta(days=1)),
        ).fetchall()
    return {ccy.strip(): (n, qty) for ccy, n, qty in rows}


def test_two_days_then_their_month(prepared: Settings, fresh_day) -> None:
    settings = prepared
    # Positions are a chain: the two days must be consecutive business days.
    day1 = fresh_day(settings, date(2025, 3, 3))
    day2 = next_business_day(day1 + timedelta(days=1))
    assert fresh_day(settings, day2) == day2
    for seed, day in ((31, day1), (32, day2)):
        generate(settings.source_dsn, day, orders=ORDERS, seed=seed)
    for day in (day1, day2):
        assert local_airflow.dags_test(settings, DAILY, day.isoformat()) == 0, day

    s3 = archive.s3_client(settings)
    for day in (day1, day2):
        for report_type in DAILY_TYPES:
            rows = _registered(settings, report_type, day)
            assert rows, (report_type, day)
            for row in rows:
                assert row["status"] == "ARCHIVED"
                bucket, key = row["s3_uri"].removeprefix("s3://").split("/", 1)
                head = s3.head_object(Bucket=bucket, Key=key, VersionId=row["s3_version_id"])
                assert head["ObjectLockMode"] == "COMPLIANCE"

    with psycopg.connect(settings.warehouse_dsn) as conn:
        for day in (day1, day2):
            summary = {
                ccy: (trades, volume)
                for ccy, trades, volume in conn.execute(
                    "select currency, trades, volume from reports.rpt_daily_trading_summary"
                    " where trading_date = %s",
                    (day,),
                )
            }
            assert summary == _source_trades(settings, day)
        # Day 2 starts from day 1: every position open at the end of day 1 opens day 2, and
        # each day's change is what it bought less what it sold.
        carried = conn.execute(
            """select count(*), count(*) filter (where d2.opening_quantity = d1.net_quantity)
               from reports.rpt_positions as d1
               join reports.rpt_positions as d2 using (account_id, instrument_id)
               where d1.business_date = %s and d2.business_date = %s
                 and d1.net_quantity <> 0""",
            (day1, day2),
        ).fetchone()
        open_day1 = conn.execute(
            "select count(*) from reports.rpt_positions where business_date = %s"
            " and net_quantity <> 0",
            (day1,),
        ).fetchone()[0]
        unbalanced = conn.execute(
            """select count(*) from reports.rpt_positions where business_date in (%s, %s)
               and net_quantity <> opening_quantity + bought_quantity - sold_quantity""",
            (day1, day2),
        ).fetchone()[0]
    assert carried[0] == carried[1] == open_day1 > 0
    assert unbalanced == 0

    # A rerun of day 2, for two of the reports only, reproduces their files: nothing new
    # archived or registered; the other two are skipped from their validation on.
    before = {t: len(_registered(settings, t, day2)) for t in DAILY_TYPES}
    chosen = ["daily_trading", "large_trader_daily"]
    assert local_airflow.dags_test(settings, DAILY, day2.isoformat(),
                                   conf={"report_date": day2.isoformat(),
                                         "reports": chosen}) == 0  # fmt: skip
    assert {t: len(_registered(settings, t, day2)) for t in DAILY_TYPES} == before
    with psycopg.connect(settings.warehouse_dsn) as conn:
        [rerun] = conn.execute(
            """select run_id from regreport.run_metrics
               where dag_id = %s and period_start = %s and step = 'extract_period'
               order by finished_at desc limit 1""",
            (DAILY, day2),
        ).fetchone()
        steps = dict(
            conn.execute(
                "select step, state from regreport.run_metrics where run_id = %s and dag_id = %s",
                (rerun, DAILY),
            ).fetchall()
        )
    assert steps["validate_positions"] == steps["validate_risk_limits"] == "skipped"
    assert steps["register_daily_trading"] == steps["register_large_trader_daily"] == "success"
    assert "render_positions" not in steps  # skipped by the scheduler: it never ran
    assert steps["release_period"] == "success"

    # The month: built from the days, archived and registered, every step audited.
    month = date(day1.year, day1.month, 1)
    code = local_airflow.dags_test(
        settings, MONTHLY, day2.isoformat(), conf={"report_month": f"{month:%Y-%m}"}
    )
    assert code == 0
    [monthly] = _registered(settings, "large_trader_monthly", month)
    assert monthly["status"] == "ARCHIVED"
    quality = _registered(settings, "execution_quality", month)
    assert sorted(r["part"] for r in quality) == [1, 2]  # the report and its realized spreads
    with psycopg.connect(settings.warehouse_dsn) as conn:
        # Every order of the month in the daily facts is in the month's report, once (the
        # month may hold days of earlier test runs too).
        ours, measured, reported = conn.execute(
            """select (select count(*) from marts.fct_execution_quality_orders
                       where trading_date in (%(d1)s, %(d2)s)),
                      (select count(*) from marts.fct_execution_quality_orders
                       where date_trunc('month', trading_date) = %(month)s),
                      (select sum(covered_orders) from reports.rpt_execution_quality_monthly
                       where month_start = %(month)s)""",
            {"d1": day1, "d2": day2, "month": month},
        ).fetchone()
    assert ours > 0
    assert reported == measured
    with psycopg.connect(settings.warehouse_dsn) as conn:
        actions = {
            e.action
            for e in audit.iter_entries(conn)
            if e.object_id and f"large_trader_monthly/{month}" in e.object_id
        }
        assert audit.verify(conn).ok
    assert "report.render" in actions

    # The quarter, for the best-execution review: every order of the quarter, once.
    quarter = date(day1.year, (day1.month - 1) // 3 * 3 + 1, 1)
    label = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
    code = local_airflow.dags_test(
        settings, QUARTERLY, day2.isoformat(), conf={"report_quarter": label}
    )
    assert code == 0
    [quarterly] = _registered(settings, "execution_quality_quarterly", quarter)
    assert quarterly["status"] == "ARCHIVED"
    assert quarterly["file_name"].endswith(f"_{label.replace('-', '')}.csv")
    with psycopg.connect(settings.warehouse_dsn) as conn:
        measured, reported = conn.execute(
            """select (select count(*) from marts.fct_execution_quality_orders
                       where date_trunc('quarter', trading_date) = %(q)s),
                      (select sum(covered_orders) from reports.rpt_execution_quality_quarterly
                       where quarter_start = %(q)s)""",
            {"q": quarter},
        ).fetchone()
    assert measured > 0
    assert reported == measured
