"""Operations through Airflow (`airflow dags test`): the deadline monitor raises the alert of a
day never reported, and a failing task raises its alert with the report, period and reason.

The alerts go to a log file of the test's own (the `log` channel), as in local mode.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import psycopg
import pytest

from regreport import alerts, deadlines, local_airflow, registry, runlog

if TYPE_CHECKING:
    from pathlib import Path

    from regreport.config import Settings

pytestmark = pytest.mark.e2e

#: A Monday the test state never reports (the e2e days are from 2025 on).
MISSED = date(2024, 6, 3)


@pytest.fixture(scope="module")
def prepared(services: Settings) -> Settings:
    local_airflow.prepare(services, log=lambda _line: None)
    return services


def _now() -> str:
    """A logical date after every DAG's start_date (an earlier run creates no task)."""
    return datetime.now(tz=UTC).replace(microsecond=0).isoformat()


def _logged(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _resolve(settings: Settings, *keys: str) -> None:
    """Close earlier runs' alerts, so this run's are new incidents and are sent again."""
    with psycopg.connect(settings.warehouse_dsn) as conn:
        for key in keys:
            alerts.resolve(conn, key)


def test_the_monitor_alerts_a_day_never_reported(
    prepared: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = prepared
    with psycopg.connect(settings.warehouse_dsn) as conn:
        assert not [r for r in registry.list_reports(conn) if r["period_start"] == MISSED]
    key = f"deadline_not_submitted:mifir_rts22:{MISSED}"
    _resolve(settings, *(f"deadline_not_submitted:{r}:{MISSED}" for r in deadlines.RULES))
    log_file = tmp_path / "alerts.log"
    monkeypatch.setenv("REGREPORT_ALERT_CHANNELS", "log")
    monkeypatch.setenv("REGREPORT_ALERT_LOG", str(log_file))
    monkeypatch.setenv("REGREPORT_REPORTING_START", str(MISSED))
    monkeypatch.setenv("REGREPORT_DEADLINE_LOOKBACK_DAYS", "30")
    # Monday's report was due by the close of Tuesday: one hour later, it is missed.
    conf = {"as_of": "2024-06-05T01:00:00+00:00"}
    code = local_airflow.dags_test(settings, "report_deadlines_monitor", _now(), conf=conf)
    assert code == 0
    sent = {a["key"]: a for a in _logged(log_file)}
    assert key in sent
    assert sent[key]["reason"] == (
        "MiFIR transaction report for 2024-06-03 was not submitted to the regulator by"
        " 2024-06-05 00:00 UTC: no report generated"
    )
    assert sent[key]["deadline"] == "2024-06-05T00:00:00Z"
    # The books and records of that Monday were not archived either; Tuesday is not due yet.
    assert {a["report"] for a in sent.values() if a["period"] == str(MISSED)} == {
        "mifir_rts22", "positions", "daily_trading", "large_trader_daily", "risk_limits",
    }  # fmt: skip
    assert {a["period"] for a in sent.values()} == {str(MISSED)}
    with psycopg.connect(settings.warehouse_dsn) as conn:
        steps = [m["step"] for m in runlog.list_metrics(conn, report="deadlines", limit=20)]
    assert "check_deadlines" in steps


def test_a_failed_task_alerts_with_report_period_and_reason(
    prepared: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = prepared
    log_file = tmp_path / "alerts.log"
    monkeypatch.setenv("REGREPORT_ALERT_CHANNELS", "log")
    monkeypatch.setenv("REGREPORT_ALERT_LOG", str(log_file))
    monkeypatch.setenv("REGREPORT_TASK_RETRIES", "0")
    # A range that ends before it starts: the first step refuses it.
    conf = {"date_from": "2024-06-07", "date_to": "2024-06-03"}
    code = local_airflow.dags_test(settings, "risk_rules_backtest", _now(), conf=conf)
    assert code != 0
    failed = [a for a in _logged(log_file) if a["kind"] == "task_failed"]
    assert failed, "no task_failed alert was sent"
    first = failed[0]
    assert first["dag_id"] == "risk_rules_backtest"
    assert first["report"] == "risk_backtest"
    assert first["period"] == "2024-06-07..2024-06-03"
    assert first["reason"] == "ValueError: date_to 2024-06-03 is before date_from 2024-06-07"
