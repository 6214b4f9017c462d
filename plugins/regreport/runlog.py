"""Per-run metrics and structured log context: what each step of each run did, and how long.

Every task of every DAG ends by writing one row to ``regreport.run_metrics`` (the Airflow
callbacks in `regreport.operators.callbacks` do it): the run, the report and its period, the
step, its outcome, its duration, and the records it took in, put out and quarantined, read
from the step's own result. Operations read it to answer "how long did yesterday's MiFIR run
take, and where did the time go", and the deadline monitor reads it to tell a day with nothing
to report from a day that was never run.

`bind` puts the run id, report and period on every log line of the task: as structlog context
variables, which Airflow's JSON task logs turn into fields of every line (its own and the
libraries' too), and, on the ``regreport`` loggers, as a ``[run_id=... report=... period=...]``
prefix that plain-text logs keep. A log line can always be traced to its run.
"""

from __future__ import annotations

import contextvars
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from regreport import ddl

if TYPE_CHECKING:
    import psycopg

SCHEMA = "regreport"
TABLE = f"{SCHEMA}.run_metrics"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    run_id          text not null,
    dag_id          text not null,
    step            text not null,
    try_number      integer not null default 1,
    report          text,
    period_start    date,
    period_end      date,
    state           text not null check (state in ('success', 'failed', 'skipped')),
    started_at      timestamptz,
    finished_at     timestamptz not null,
    duration_s      numeric(12, 3),
    records_in      bigint,
    records_out     bigint,
    quarantined     bigint,
    error           text,
    details         jsonb not null default '{{}}',
    recorded_at     timestamptz not null default now(),
    primary key (run_id, dag_id, step, try_number)
);
-- 'skipped' came after the first version of the table.
alter table {TABLE} drop constraint if exists run_metrics_state_check;
alter table {TABLE} add constraint run_metrics_state_check
    check (state in ('success', 'failed', 'skipped'));
create index if not exists run_metrics_report_period_idx
    on {TABLE} (report, period_start, finished_at);
"""

log = logging.getLogger(__name__)

#: Log context of the current task: run_id, report, period.
_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "regreport_log_context", default=None
)
CONTEXT_KEYS = ("run_id", "report", "period")


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create ``regreport.run_metrics`` if needed (see `regreport.ddl.ensure`)."""
    ddl.ensure(conn, "run_metrics", DDL)


# -- structured log context -------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Adds the bound run_id, report and period to each record (attributes and a prefix)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record; only decorates it once."""
        bound = _CONTEXT.get()
        mine = record.name == "regreport" or record.name.startswith("regreport.")
        if bound and mine and not getattr(record, "_regreport_bound", False):
            for key in CONTEXT_KEYS:
                if key in bound and not hasattr(record, key):
                    setattr(record, key, bound[key])
            prefix = " ".join(f"{k}={bound[k]}" for k in CONTEXT_KEYS if k in bound)
            record.msg = f"[{prefix}] {record.msg}"
            record._regreport_bound = True
        return True


_FILTER = ContextFilter()


def bind(**context: str | None) -> dict[str, str]:
    """Bind run_id / report / period to the ``regreport`` loggers of this task.

    Returns the bound context. Idempotent: the filter is installed once.
    """
    bound = {k: str(v) for k, v in context.items() if v not in (None, "")}
    _CONTEXT.set(bound)
    try:  # Airflow's task logs merge structlog's context variables into each JSON line.
        import structlog
    except ImportError:  # pragma: no cover - structlog comes with Airflow
        structlog = None
    if structlog is not None:
        structlog.contextvars.bind_contextvars(**bound)
    # Handler filters see the records of child loggers too (logger filters do not).
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    return bound


def unbind() -> None:
    """Forget the bound context (the next task binds its own)."""
    _CONTEXT.set({})
    try:
        import structlog
    except ImportError:  # pragma: no cover - structlog comes with Airflow
        return
    structlog.contextvars.unbind_contextvars(*CONTEXT_KEYS)


def bound() -> dict[str, str]:
    """The context bound now (a copy)."""
    return dict(_CONTEXT.get() or {})


# -- metrics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepMetric:
    """One step (task try) of one run, as recorded in ``regreport.run_metrics``."""

    run_id: str
    dag_id: str
    step: str
    state: str
    finished_at: datetime
    try_number: int = 1
    report: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    started_at: datetime | None = None
    records_in: int | None = None
    records_out: int | None = None
    quarantined: int | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> Decimal | None:
        """Seconds from start to finish, to the millisecond (None without a start)."""
        if self.started_at is None:
            return None
        seconds = (self.finished_at - self.started_at).total_seconds()
        return Decimal(str(round(seconds, 3)))


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float | Decimal) and value is not None else None


def step_counts(  # noqa: C901 - one branch per step's result shape
    result: Any,
) -> tuple[int | None, int | None, int | None, dict[str, Any]]:
    """Records in, records out, quarantined, and small details, from a step's return value.

    The steps return JSON-able dicts (`regreport.pipeline`, `regreport.periodic`,
    `regreport.risk.replay`); this knows their shapes. Anything else gives no counts rather
    than a guess.
    """
    if not isinstance(result, dict):
        return None, None, None, {}
    details: dict[str, Any] = {}
    if isinstance(result.get("rows"), dict):  # extract: rows landed per raw table
        landed = sum(int(v) for v in result["rows"].values())
        details["rows"] = result["rows"]
        return landed, landed, None, details
    counts = result.get("counts")
    if isinstance(counts, dict) and "source_executions" in counts:  # MiFIR render
        details["counts"] = counts
        if "changes" in result:
            details["changes"] = result["changes"]
        return (
            _int(counts.get("source_executions")),
            _int(result.get("record_count", counts.get("reported"))),
            _int(counts.get("quarantined")),
            details,
        )
    if "orders" in result and "invalid" in result:  # 15c3-5 replay
        return _int(result["orders"]), _int(result.get("accepted")), _int(result["invalid"]), {}
    if "evaluated" in result or "success" in result:  # rules / GX validation
        for key in ("evaluated", "violations", "success", "statistics"):
            if key in result:
                details[key] = result[key]
    if "record_count" in result:  # a rendered periodic report
        return None, _int(result["record_count"]), None, details
    if isinstance(result.get("files"), list):  # archive / register / submit
        details["files"] = len(result["files"])
    return None, None, None, details


def record(conn: psycopg.Connection[Any], metric: StepMetric) -> None:
    """Upsert one step's row (a task's callback may run again for the same try)."""
    ensure_schema(conn)
    conn.execute(
        f"""insert into {TABLE} (run_id, dag_id, step, try_number, report, period_start,
                period_end, state, started_at, finished_at, duration_s, records_in,
                records_out, quarantined, error, details)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (run_id, dag_id, step, try_number) do update set
                state = excluded.state, finished_at = excluded.finished_at,
                duration_s = excluded.duration_s, records_in = excluded.records_in,
                records_out = excluded.records_out, quarantined = excluded.quarantined,
                error = excluded.error, details = excluded.details, recorded_at = now()""",
        (
            metric.run_id,
            metric.dag_id,
            metric.step,
            metric.try_number,
            metric.report,
            metric.period_start,
            metric.period_end,
            metric.state,
            metric.started_at,
            metric.finished_at,
            metric.duration_s,
            metric.records_in,
            metric.records_out,
            metric.quarantined,
            metric.error,
            json.dumps(metric.details, sort_keys=True, default=str),
        ),
    )


def list_metrics(
    conn: psycopg.Connection[Any],
    *,
    run_id: str | None = None,
    report: str | None = None,
    period_start: date | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Rows of ``run_metrics``, newest run first, steps in the order they finished."""
    ensure_schema(conn)
    where, args = [], []
    for column, value in (("run_id", run_id), ("report", report), ("period_start", period_start)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    clause = f"where {' and '.join(where)}" if where else ""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""select run_id, dag_id, step, try_number, report, period_start, period_end,
                       state, started_at, finished_at, duration_s, records_in, records_out,
                       quarantined, error, details
                from {TABLE} {clause}
                order by max(finished_at) over (partition by run_id) desc, run_id,
                         finished_at, step
                limit %s""",
            (*args, limit),
        )
        return list(cur.fetchall())


def completed_before(
    conn: psycopg.Connection[Any], report: str, period_start: date, steps: tuple[str, ...]
) -> datetime | None:
    """When a run of `report` for the period first finished one of `steps` successfully.

    The deadline monitor's evidence that a period was run to the end even when it produced
    nothing to file (no trades that day).
    """
    ensure_schema(conn)
    row = conn.execute(
        f"""select min(finished_at) from {TABLE}
            where report = %s and period_start = %s and state = 'success'
              and step = any(%s)""",
        (report, period_start, list(steps)),
    ).fetchone()
    return row[0] if row else None
