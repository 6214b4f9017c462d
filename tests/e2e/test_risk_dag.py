"""risk_rules_backtest end to end from the command line (`regreport risk backtest`).

A fresh day is generated, replayed as recorded, then replayed again (nothing new archived,
no breach logged twice), then backtested with a TESTING rule against the latest rule-set
version. Counts are checked against the QSuite source.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from click.testing import CliRunner

from regreport import archive, local_airflow, registry
from regreport.cli import main
from regreport.config import Settings
from regreport.generator import generate
from regreport.risk import replay, store

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def prepared(services: Settings) -> Settings:
    local_airflow.prepare(services, log=lambda _line: None)
    return services


def _backtest(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(main, ["risk", "backtest", *args], env={}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _one(settings: Settings, query: str, params: tuple) -> int:
    with psycopg.connect(settings.warehouse_dsn) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def test_backtest_from_the_command_line(prepared: Settings, fresh_day) -> None:  # noqa: ANN001
    settings = prepared
    day = fresh_day(settings, date(2025, 5, 5))
    generate(settings.source_dsn, day, orders=300, seed=51)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.source_dsn) as conn:
        source = conn.execute(
            "select count(*) from qsuite.orders where created_at >= %s and created_at < %s",
            (start, start + timedelta(days=1)),
        ).fetchone()[0]  # type: ignore[index]

    output = _backtest(settings, "--from", day.isoformat())
    name = replay.replay_id(day, day, None, False)
    assert f"replay    {name}" in output
    undated = _one(settings, "select count(*) from raw.qsuite_orders where created_at is null", ())
    orders = _one(settings, "select orders from regreport.risk_replays where replay_id = %s",
                  (name,))  # fmt: skip
    assert orders == source + undated
    breaches = _one(settings, "select breaches from regreport.risk_replays where replay_id = %s",
                    (name,))  # fmt: skip
    logged = (
        "select count(*) from regreport.audit_log where action = 'risk.breach'"
        " and after ->> 'replay_id' = %s"
    )
    assert _one(settings, logged, (name,)) == breaches

    with psycopg.connect(settings.warehouse_dsn) as conn:
        files = [r for r in registry.list_reports(conn, replay.REPORT_TYPE)
                 if r["period_start"] == day]  # fmt: skip
    assert len(files) == 2  # the breaches and the summary
    s3 = archive.s3_client(settings)
    for row in files:
        bucket, key = row["s3_uri"].removeprefix("s3://").split("/", 1)
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=row["s3_version_id"])
        assert head["ObjectLockMode"] == "COMPLIANCE"

    # A rerun: same files (no new registry row, no new object version), breaches logged once.
    _backtest(settings, "--from", day.isoformat())
    with psycopg.connect(settings.warehouse_dsn) as conn:
        again = [r for r in registry.list_reports(conn, replay.REPORT_TYPE)
                 if r["period_start"] == day]  # fmt: skip
    assert {r["report_id"] for r in again} == {r["report_id"] for r in files}
    assert _one(settings, logged, (name,)) == breaches

    # A candidate rule, tested before it goes live: at most 1 unit per order.
    with psycopg.connect(settings.warehouse_dsn) as conn:
        store.record_change(
            conn, rule_id="CANDIDATE-MAXQTY", changed_by="e2e", change_reason="backtest",
            rule_type="MAX_ORDER_QUANTITY", status="TESTING", threshold=1,
            effective_from=datetime(2018, 1, 1, tzinfo=UTC),
        )  # fmt: skip
        conn.commit()
        latest = conn.execute(
            "select max(ruleset_version) from regreport.risk_rule_versions"
        ).fetchone()[0]  # type: ignore[index]
    _backtest(settings, "--from", day.isoformat(), "--ruleset-version", str(latest),
              "--include-testing")  # fmt: skip
    candidate = replay.replay_id(day, day, latest, True)
    rejected = _one(settings, "select rejected from regreport.risk_replays where replay_id = %s",
                    (candidate,))  # fmt: skip
    before = _one(settings, "select rejected from regreport.risk_replays where replay_id = %s",
                  (name,))  # fmt: skip
    assert rejected > before
    by_candidate = (
        "select count(*) from regreport.compliance_checks where replay_id = %s"
        " and rule_id = 'CANDIDATE-MAXQTY' and outcome = 'REJECT'"
    )
    assert _one(settings, by_candidate, (candidate,)) > 0
