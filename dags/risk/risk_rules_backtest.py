"""# SEC 15c3-5 backtest: which orders would the pre-trade controls have rejected?

Replays a date range of historical orders, in time order, through the firm's pre-trade
controls (SEC Rule 15c3-5 (c)(1) credit and erroneous-order controls, (c)(2) regulatory
controls): market access and approved symbols, the restricted list, trading hours from the
exchange calendar (holidays and half days), minimum and maximum order size and notional, the
price collar against the prevailing NBBO midpoint, duplicate orders, message rate, the
account's credit limit (open orders included) and the position limit.

Two questions, one DAG:

- **"Which of yesterday's orders would our controls have rejected?"** Leave *Rule-set
  version* empty: each order meets the rules as they were recorded at its own time.
- **"What would this new rule have rejected last month?"** Record the rule as TESTING (`regreport
  risk rules set ... --status TESTING`), then trigger with *Include TESTING rules* and the
  latest *Rule-set version* (`regreport risk rules list` shows it).

1. `extract_range` lands each day's orders and quotes (the idempotent extract of the other DAGs).
2. `seed_rules` starts an empty rule book from the source limits and the firm defaults.
3. `replay` (`RiskCheckReplayOperator`) decides every order: per order and check the outcome,
   a reason code from a closed set, the threshold, the observed value, the binding rule and the
   reference price with its timestamp, in `regreport.compliance_checks`. Bad input (a missing
   or negative quantity, an unknown account or symbol, a timestamp outside the day) is
   rejected with its own reason code, never skipped; orders landed = accepted + rejected +
   invalid, or the task fails.
4. `render` writes the breach report and its summary (CSV, SHA-256 manifests); `archive` puts
   them under Object Lock; `register` records them and logs every breach to the audit trail.

A rerun of the same range and mode replaces its rows and reproduces the same files byte for
byte. Manual only: trigger from the UI (**Trigger DAG w/ config**) or
`regreport risk backtest --from A --to B [--ruleset-version N] [--include-testing]`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from regreport import config
from regreport.operators.audit import record_trigger_task
from regreport.operators.callbacks import task_callbacks
from regreport.operators.risk import RiskCheckReplayOperator

SETTINGS = config.Settings.from_env()


def _run_id() -> str:
    return str(get_current_context()["run_id"])


@task
def resolve_range() -> dict[str, str]:
    """The days to replay (params, or the business day before the run's date)."""
    from regreport.risk.replay import backtest_range

    ctx = get_current_context()
    # A run triggered without a logical date (the UI's default) has its run_after.
    anchor = ctx.get("logical_date") or ctx["dag_run"].run_after
    params = ctx["params"]
    first, last = backtest_range(params.get("date_from"), params.get("date_to"), anchor.date())
    return {"date_from": first.isoformat(), "date_to": last.isoformat()}


@task
def extract_range(days: dict[str, str]) -> dict[str, Any]:
    """Land each day's source rows in `raw` (idempotent), so the replay sees every order."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.pipeline import extract
    from regreport.risk.rules import day_bounds, from_micros
    from regreport.risk.store import days as each_day

    run_id = _run_id()
    landed = {}
    for day in each_day(date.fromisoformat(days["date_from"]), date.fromisoformat(days["date_to"])):
        start, end = (from_micros(b) for b in day_bounds(day))
        result = extract(
            postgres_dsn(config.SOURCE_CONN_ID), postgres_dsn(config.EXTRACT_CONN_ID),
            start, end, f"{run_id}/{day}",
        )  # fmt: skip
        landed[day.isoformat()] = result["rows"].get("orders", 0)
    return landed


@task
def seed_rules() -> int:
    """Start the rule book from the source limits and firm defaults if it is empty."""
    import psycopg

    from regreport.hooks.connections import postgres_dsn
    from regreport.risk import store

    with psycopg.connect(postgres_dsn(config.WAREHOUSE_CONN_ID)) as conn:
        written = store.seed(conn, changed_by="airflow:risk_rules_backtest")
        conn.commit()
    return written


@task
def render(summary: dict[str, Any]) -> dict[str, Any]:
    """Write the breach report and its summary with their manifests."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.risk import replay

    return replay.render(SETTINGS, postgres_dsn(config.WAREHOUSE_CONN_ID), summary["replay_id"])


@task
def archive(built: dict[str, Any]) -> dict[str, Any]:
    """Upload the files and manifests to the Object Lock bucket (never overwriting)."""
    from regreport.hooks.connections import s3_client
    from regreport.pipeline import archive as archive_files

    return archive_files(SETTINGS, s3_client(config.S3_CONN_ID), built)


@task
def register(built: dict[str, Any], archived: dict[str, Any]) -> dict[str, Any]:
    """Register the files and log every breach to the audit trail."""
    from regreport.hooks.connections import postgres_dsn
    from regreport.risk import replay

    run_id = _run_id()
    return replay.register(postgres_dsn(config.WAREHOUSE_CONN_ID), built, archived, run_id)


@dag(
    dag_id="risk_rules_backtest",
    dag_display_name="15c3-5 risk-check replay and rule backtest",
    schedule=None,
    start_date=datetime(2018, 1, 1),
    catchup=False,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(minutes=2),
        **task_callbacks("risk_backtest"),
    },
    tags=["risk", "report"],
    doc_md=__doc__,
    params={
        "date_from": Param(
            None,
            type=["null", "string"],
            format="date",
            title="From",
            description="First day to replay (empty: the previous business day).",
        ),
        "date_to": Param(
            None,
            type=["null", "string"],
            format="date",
            title="To",
            description="Last day, inclusive (empty: the From day).",
        ),
        "ruleset_version": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Rule-set version",
            description="Replay against this version of the rule book (empty: the rules as "
            "recorded at each order's time).",
        ),
        "include_testing": Param(False, type="boolean", title="Include TESTING rules"),
    },  # fmt: skip
)
def risk_rules_backtest() -> None:
    """Resolve the range, extract it, seed rules, replay, render, archive, register."""
    days = resolve_range()
    record_trigger_task() >> days
    landed = extract_range(days)
    seeded = seed_rules()
    replayed = RiskCheckReplayOperator(
        task_id="replay",
        date_from="{{ ti.xcom_pull(task_ids='resolve_range')['date_from'] }}",
        date_to="{{ ti.xcom_pull(task_ids='resolve_range')['date_to'] }}",
        ruleset_version="{{ params.ruleset_version }}",
        include_testing="{{ params.include_testing }}",
        conn_id=config.WAREHOUSE_CONN_ID,
    )
    [landed, seeded] >> replayed
    built = render(replayed.output)
    register(built, archive(built))


risk_rules_backtest()
