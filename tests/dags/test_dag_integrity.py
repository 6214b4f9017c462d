"""Every DAG imports cleanly and follows the house rules (STYLE B2)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pendulum
import pytest

from regreport import local_airflow
from regreport.config import Settings

DAGS = Path(__file__).resolve().parents[2] / "dags"
APPROVED_TAGS = {"mifir", "report", "ingest", "ops", "risk", "periodic", "audit"}

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def dagbag(settings: Settings):
    # Cosmos renders the dbt group from the parsed manifest, so parsing needs no database.
    local_airflow.dbt_parse(settings, log=lambda _line: None)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert "mifir_transactions_daily" in dagbag.dags


def test_file_stem_is_dag_id(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).stem == dag_id


def test_house_rules(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert (dag.doc_md or "").strip(), f"{dag_id}: doc_md missing"
        assert set(dag.tags) <= APPROVED_TAGS, f"{dag_id}: unapproved tags {dag.tags}"
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id}: retries {task.retries}"


def test_report_dags_have_a_real_data_interval(dagbag) -> None:
    from airflow.timetables.trigger import CronTriggerTimetable

    for dag_id, dag in dagbag.dags.items():
        if "/report/" in dag.fileloc:
            assert not isinstance(dag.timetable, CronTriggerTimetable), dag_id
            interval = dag.timetable.infer_manual_data_interval(
                run_after=pendulum.datetime(2026, 11, 26, 12, tz="UTC")
            )
            assert interval.end > interval.start, f"{dag_id}: zero-width data interval"


def test_mifir_task_order(dagbag) -> None:
    """Nothing is rendered or archived unless extract, dbt, the rule gate and GX ran first."""
    dag = dagbag.dags["mifir_transactions_daily"]

    def upstream(task_id: str) -> set[str]:
        return dag.get_task(task_id).get_flat_relative_ids(upstream=True)

    rpt = "dbt_reports.rpt_mifir_rts22_transactions_model_build"
    quarantine = "dbt_reports.rpt_mifir_rts22_quarantine_model_build"
    transactions = "dbt_transform.int_mifir__transactions_model_build"
    assert {rpt, quarantine, transactions} <= set(dag.task_ids)
    assert "extract_period" in upstream("dbt_transform.mifir_quarantine_reasons_seed_build")
    # The rule gate sees the finished candidates, and both report models see the gate.
    assert {"extract_period", transactions} <= upstream("apply_rules")
    assert "apply_rules" in upstream(rpt)
    assert "apply_rules" in upstream(quarantine)
    assert {"extract_period", rpt, quarantine} <= upstream("validate_report")
    assert "validate_report" in upstream("render_report")
    assert {"validate_report", "render_report"} <= upstream("archive_report")
    assert {"archive_report", "render_report"} <= upstream("register_report")
    # Only registered (archived) files are submitted; feedback is awaited after submission.
    assert {"register_report", "archive_report"} <= upstream("submit_report")
    assert "submit_report" in upstream("await_feedback")


def test_resubmission_is_a_form_choice(dagbag) -> None:
    """Compliance users resubmit rejected records from the trigger form, with params."""
    params = dagbag.dags["mifir_transactions_daily"].params
    assert {"report_date", "only_rejected", "resend_unchanged"} <= set(params.keys())
    assert params["only_rejected"] is False
    assert params["resend_unchanged"] is False


def test_feedback_wait_is_deferrable(dagbag) -> None:
    """Waiting for the regulator must not hold a worker slot for hours."""
    from regreport.operators.feedback import AwaitRegulatorFeedbackOperator, GatewayOutboxTrigger

    task = dagbag.dags["mifir_transactions_daily"].get_task("await_feedback")
    assert isinstance(task, AwaitRegulatorFeedbackOperator)
    trigger = GatewayOutboxTrigger("c", ["b", "a"], "2026-11-27T00:00:00+00:00")
    classpath, kwargs = trigger.serialize()
    assert classpath == "regreport.operators.feedback.GatewayOutboxTrigger"
    assert kwargs["known"] == ["a", "b"]
    assert "password" not in json.dumps(kwargs)
    assert "mifir_feedback_collect" in dagbag.dags


def test_report_dags_can_backfill_years_back(dagbag) -> None:
    """A run before a DAG's start_date creates no task and "succeeds" having done nothing:
    report DAGs must accept every period since MiFIR II began."""
    for dag_id, dag in dagbag.dags.items():
        if "/report/" in dag.fileloc:
            assert dag.start_date <= pendulum.datetime(2018, 1, 3, tz="UTC"), dag_id
            assert dag.catchup is False, dag_id  # and no flood of runs on deployment


def test_every_schedule_is_an_explicit_interval_timetable(dagbag) -> None:
    """A bare cron string or timedelta gives a zero-width interval in Airflow 3: not here."""
    # By name: the Task SDK has its own NullTimetable class.
    allowed = {
        "CronDataIntervalTimetable",
        "DeltaDataIntervalTimetable",
        "BusinessDayTimetable",
        "MonthlyTimetable",
        "QuarterlyTimetable",
        "NullTimetable",
    }
    for dag_id, dag in dagbag.dags.items():
        assert type(dag.timetable).__name__ in allowed, f"{dag_id}: {type(dag.timetable)}"


def test_every_task_records_metrics_and_alerts_on_failure(dagbag) -> None:
    """Each task logs with its run context, records its metrics, and alerts when it fails."""
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            for hook in ("on_execute_callback", "on_success_callback", "on_failure_callback",
                         "on_retry_callback"):  # fmt: skip
                callbacks = getattr(task, hook)
                callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
                names = {getattr(getattr(c, "func", c), "__name__", "") for c in callbacks}
                assert names & {"on_execute", "on_success", "on_failure", "on_retry"}, (
                    f"{dag_id}.{task.task_id}: {hook} is {callbacks}"
                )


def test_deadlines_are_monitored_every_quarter_hour(dagbag) -> None:
    timetable = dagbag.dags["report_deadlines_monitor"].timetable
    assert type(timetable).__name__ == "CronDataIntervalTimetable"
    assert timetable.expression == "*/15 * * * *"


def test_a_period_is_built_and_filed_by_one_run_at_a_time(dagbag) -> None:
    """The period lease is taken before anything is landed and kept until filing is done."""
    for dag_id, writes in (
        ("mifir_transactions_daily", ["extract_period", "render_report", "submit_report"]),
        ("periodic_reports_daily", ["extract_period", "render_positions", "register_positions"]),
        ("periodic_reports_monthly", ["check_days_built", "register_execution_quality"]),
        (
            "periodic_reports_quarterly",
            ["check_days_built", "register_execution_quality_quarterly"],
        ),
    ):
        dag = dagbag.dags[dag_id]
        claim, release = dag.get_task("claim_period"), dag.get_task("release_period")
        assert claim.is_setup, dag_id
        assert release.is_teardown, dag_id
        assert claim.mode == "reschedule", dag_id  # waiting frees the worker slot
        for task_id in writes:
            task = dag.get_task(task_id)
            assert "claim_period" in task.get_flat_relative_ids(upstream=True), (dag_id, task_id)
            assert "release_period" in task.get_flat_relative_ids(upstream=False), (dag_id, task_id)
    # The MiFIR lease is given back once the files are submitted, not after the feedback wait.
    mifir = dagbag.dags["mifir_transactions_daily"]
    assert "release_period" not in mifir.get_task("await_feedback").get_flat_relative_ids(
        upstream=True
    )


def test_periodic_reports_are_a_form_choice(dagbag) -> None:
    """A backfill or a rerun may build some of the periodic reports only."""
    for dag_id, reports in (
        ("periodic_reports_daily", ["positions", "daily_trading", "large_trader_daily",
                                    "risk_limits"]),
        ("periodic_reports_monthly", ["large_trader_monthly", "execution_quality"]),
    ):  # fmt: skip
        param = dagbag.dags[dag_id].params.get_param("reports")
        assert param.value == reports, dag_id
        assert param.schema["items"]["enum"] == reports, dag_id


def test_the_quarterly_dag_reports_calendar_quarters(dagbag) -> None:
    from regreport.timetables import QuarterlyTimetable

    dag = dagbag.dags["periodic_reports_quarterly"]
    assert type(dag.timetable).__name__ == QuarterlyTimetable.__name__
    spec = importlib.util.spec_from_file_location("quarterly_dag", dag.fileloc)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.quarter_bounds("2026-Q4") == (
        pendulum.datetime(2026, 10, 1, tz="UTC"),
        pendulum.datetime(2027, 1, 1, tz="UTC"),
    )
    with pytest.raises(ValueError, match="2026-Q4"):
        module.quarter_bounds("2026-Q5")
