"""The shared task callbacks: period and report of a task, metrics rows, failure alerts.

The callbacks are called here with a context shaped like Airflow's (a task instance with its
ids, try number and start; the run id; params; the data interval), against a real scratch
warehouse reached through an `AIRFLOW_CONN_*` connection, as in a worker.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import alerts, audit, runlog
from regreport.operators import callbacks

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

DB = "callbacks_test_regreport"
RUN = "scheduled__2026-11-27T06:00:00+00:00"


class _TI(SimpleNamespace):
    def xcom_pull(self, task_ids: str, key: str) -> Any:
        assert key == "return_value"
        return self.result


def _context(task_id: str, params: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    ti = _TI(
        dag_id="mifir_transactions_daily",
        task_id=task_id,
        try_number=3,
        map_index=-1,
        start_date=datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC),
        result=extra.pop("result", None),
    )
    return {
        "ti": ti,
        "run_id": RUN,
        "params": params or {},
        "data_interval_start": datetime(2026, 11, 26, tzinfo=UTC),
        "data_interval_end": datetime(2026, 11, 27, tzinfo=UTC),
        "dag_run": SimpleNamespace(dag_id="mifir_transactions_daily", conf={}),
        **extra,
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (date(2026, 11, 26), date(2026, 11, 26))),
        ({"report_date": "2026-10-05"}, (date(2026, 10, 5), date(2026, 10, 5))),
        ({"report_month": "2026-02"}, (date(2026, 2, 1), date(2026, 2, 28))),
        ({"report_month": "2026-12"}, (date(2026, 12, 1), date(2026, 12, 31))),
        ({"report_quarter": "2026-Q4"}, (date(2026, 10, 1), date(2026, 12, 31))),
        ({"date_from": "2026-09-28", "date_to": "2026-09-30"},
         (date(2026, 9, 28), date(2026, 9, 30))),
    ],
)  # fmt: skip
def test_the_period_comes_from_params_else_the_interval(params: dict, expected: tuple) -> None:
    assert callbacks.period_of(_context("extract_period", params)) == expected  # type: ignore[arg-type]


@pytest.mark.unit
def test_the_report_of_a_per_report_task() -> None:
    assert callbacks.report_of("render_positions", "periodic_daily") == "positions"
    assert callbacks.report_of("register_large_trader_monthly", "x") == "large_trader_monthly"
    assert callbacks.report_of("register_large_trader_daily", "x") == "large_trader_daily"
    assert callbacks.report_of("render_execution_quality_quarterly", "x") == (
        "execution_quality_quarterly"
    )
    assert callbacks.report_of("render_execution_quality", "x") == "execution_quality"
    assert callbacks.report_of("dbt_periodic.fct_positions_daily_model_build", "x") == "x"
    assert callbacks.report_of("extract_period", "mifir_rts22") == "mifir_rts22"


@pytest.mark.unit
def test_log_lines_carry_the_run_report_and_period(caplog: pytest.LogCaptureFixture) -> None:
    handler = logging.StreamHandler()
    logging.getLogger().addHandler(handler)
    try:
        callbacks.on_execute("mifir_rts22", _context("render_report"))  # type: ignore[arg-type]
        with caplog.at_level(logging.INFO):
            logging.getLogger("regreport.pipeline").info("rendered %d records", 12)
            logging.getLogger("botocore").info("not ours")
    finally:
        logging.getLogger().removeHandler(handler)
        runlog.unbind()
    ours = next(r for r in caplog.records if r.name == "regreport.pipeline")
    assert ours.getMessage() == (
        f"[run_id={RUN} report=mifir_rts22 period=2026-11-26] rendered 12 records"
    )
    assert (ours.run_id, ours.report, ours.period) == (RUN, "mifir_rts22", "2026-11-26")  # type: ignore[attr-defined]
    theirs = next(r for r in caplog.records if r.name == "botocore")
    assert theirs.getMessage() == "not ours"


@pytest.mark.unit
def test_json_task_logs_get_report_and_period_as_fields() -> None:
    """Airflow renders task logs with structlog, merging its context variables into each line."""
    import structlog

    callbacks.on_execute("positions", _context("render_positions", {"report_date": "2026-10-05"}))  # type: ignore[arg-type]
    try:
        assert structlog.contextvars.get_contextvars() == {
            "run_id": RUN, "report": "positions", "period": "2026-10-05",
        }  # fmt: skip
    finally:
        runlog.unbind()
    assert structlog.contextvars.get_contextvars() == {}


@pytest.fixture
def warehouse(scratch_db: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> str:
    dsn = scratch_db(DB)
    with psycopg.connect(dsn) as conn:
        runlog.ensure_schema(conn)
        alerts.ensure_schema(conn)
        audit.ensure_schema(conn)
        conn.commit()
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_POSTGRES", dsn.replace("postgresql://", "postgres://")
    )
    return dsn


@pytest.mark.integration
def test_success_records_the_step_and_its_counts(warehouse: str) -> None:
    rendered = {
        "record_count": 2410,
        "counts": {"source_executions": 2500, "reported": 2405, "quarantined": 60,
                   "not_reportable": 35},
        "changes": {"new": 2410},
    }  # fmt: skip
    callbacks.on_success("mifir_rts22", _context("render_report", result=rendered))  # type: ignore[arg-type]
    with psycopg.connect(warehouse) as conn:
        [row] = runlog.list_metrics(conn, run_id=RUN)
    assert row["step"] == "render_report"
    assert (row["report"], row["period_start"], row["state"]) == (
        "mifir_rts22",
        date(2026, 11, 26),
        "success",
    )
    assert (row["records_in"], row["records_out"], row["quarantined"]) == (2500, 2410, 60)
    assert row["try_number"] == 3
    assert row["duration_s"] > 0
    assert row["details"]["counts"]["not_reportable"] == 35


@pytest.mark.integration
def test_a_final_failure_alerts_with_report_period_and_reason(
    warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_file = tmp_path / "alerts.log"
    monkeypatch.setenv("REGREPORT_ALERT_CHANNELS", "log")
    monkeypatch.setenv("REGREPORT_ALERT_LOG", str(log_file))
    error = RuntimeError(
        "counts do not reconcile for 2026-11-26: source 2500 != reported 2405 + quarantined 60"
        " + not reportable 30"
    )
    ctx = _context("render_report", {"report_date": "2026-11-26"}, exception=error)
    callbacks.on_retry("mifir_rts22", ctx)  # type: ignore[arg-type]
    assert not log_file.exists()  # a try that will be retried does not alert
    callbacks.on_failure("mifir_rts22", ctx)  # type: ignore[arg-type]
    [sent] = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert sent["kind"] == "task_failed"
    assert (sent["report"], sent["period"], sent["task_id"]) == (
        "mifir_rts22",
        "2026-11-26",
        "render_report",
    )
    assert sent["reason"] == f"RuntimeError: {error}"
    with psycopg.connect(warehouse) as conn:
        rows = runlog.list_metrics(conn, run_id=RUN)
        assert [(r["state"], r["error"]) for r in rows] == [("failed", f"RuntimeError: {error}")]
        actions = [e.action for e in audit.iter_entries(conn)]
    assert "task.failed" in actions
    assert "alert.raised" in actions
    # Cleared and rerun, the task succeeds: its failure alert is closed.
    key = f"task_failed:mifir_transactions_daily:render_report:{RUN}"
    with psycopg.connect(warehouse) as conn:
        assert alerts.get_alert(conn, key).resolved_at is None  # type: ignore[union-attr]
    callbacks.on_success("mifir_rts22", _context("render_report", {"report_date": "2026-11-26"}))  # type: ignore[arg-type]
    with psycopg.connect(warehouse) as conn:
        assert alerts.get_alert(conn, key).resolved_at is not None  # type: ignore[union-attr]
