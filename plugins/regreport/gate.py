"""The Python rule gate: run the validation catalogue over a run's candidate transactions.

dbt decides eligibility and the blocking data gaps it can see in SQL (`reason_code` on
`intermediate.int_mifir__transactions`); the rule catalogue (`regreport.rules`) holds the checks
that need code or reference data: check digits, ISO 10383/4217 validity on the trade date,
CONCAT construction, per-instrument mandatory fields. This module joins the two: it reads the
run's candidate rows, evaluates every catalogue rule on each, and stores one row per
(execution, rule) that failed in `regreport.rule_violations`, which the quarantine model reads.

Scope of a run ``[start, end)``: executions traded in the window, plus executions whose source
row was updated in it (late corrections of earlier trades). Candidates are the scope's rows
without a dbt reason code. The gate replaces the violations of the whole scope, so re-running a
period is idempotent and a fixed record loses its old violations.

A late correction is judged against a period that starts on its own trade date, so that it is
not flagged as "outside the reporting period" (RR-TS-002) merely for being late.

Nothing here stores or logs a record value: violations hold ids, codes, column names and the
trade date; `GateResult` holds counts.

Speed: rows stream through a server-side cursor and violations go back with COPY in batches,
so memory stays flat and 100k rows take seconds.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import sql
from psycopg.rows import dict_row

from regreport.rules import (
    CATALOGUE,
    RefData,
    RuleContext,
    catalogue_mismatches,
    implementations,
)
from regreport.rules._registry import RuleCatalogueError, as_datetime, trade_date

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import psycopg

log = logging.getLogger(__name__)

SOURCE_SCHEMA = "intermediate"
SOURCE_TABLE = "int_mifir__transactions"
#: Column names the source may use for the execution's last update (first one present wins).
UPDATED_AT_COLUMNS = ("updated_at", "execution_updated_at", "source_updated_at")
BATCH_ROWS = 5_000

DDL = """
create schema if not exists regreport;
create table if not exists regreport.rule_violations (
    execution_id bigint not null,
    rule_code text not null,
    severity text not null,
    field text,
    trading_date date not null,
    extract_run_id text,
    detected_at timestamptz not null default now(),
    primary key (execution_id, rule_code)
);
"""
COPY_COLUMNS = ("execution_id", "rule_code", "severity", "field", "trading_date", "extract_run_id")


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create ``regreport.rule_violations`` if missing (the admin does it at setup)."""
    from regreport import ddl

    ddl.ensure(conn, "rule_violations", DDL)


@dataclass(frozen=True)
class GateResult:
    """What one gate run found: counts only, never record values.

    Attributes:
        run_id: the extract run the violations are attributed to.
        scope: executions in the run's scope (candidates or not).
        evaluated: candidate rows the catalogue ran on.
        violations: (execution, rule) rows written to `regreport.rule_violations`.
        blocked: executions with at least one error-severity violation.
        by_code: violations per rule code.
        by_severity: violations per severity.
        notes: checks the run skipped (reference tables not loaded), one line each.
    """

    run_id: str
    scope: int
    evaluated: int
    violations: int
    blocked: int
    by_code: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)
    #: What the run could not check, e.g. "refdata: FIRDS not loaded, REF rules skipped".
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """One log line: counts and the codes found, no values."""
        codes = ", ".join(f"{code}={count}" for code, count in sorted(self.by_code.items()))
        return (
            f"rule gate {self.run_id}: {self.evaluated} of {self.scope} executions evaluated, "
            f"{self.violations} violations, {self.blocked} blocked"
            + (f" ({codes})" if codes else "")
        )


def _utc(moment: date | datetime) -> datetime:
    """An aware UTC instant from a date (its midnight) or an aware datetime."""
    if isinstance(moment, datetime):
        if moment.utcoffset() is None:
            raise ValueError("run_gate needs time-zone aware datetimes (or plain dates)")
        return moment.astimezone(UTC)
    return datetime.combine(moment, time(), tzinfo=UTC)


def _period_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The UTC days covering ``[start, end)``: first day, and the first day after."""
    last = end.date() if end.time() == time() else end.date() + timedelta(days=1)
    return start.date(), last


def _source_columns(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = %s",
        (SOURCE_SCHEMA, SOURCE_TABLE),
    ).fetchall()
    if not rows:
        raise LookupError(f"{SOURCE_SCHEMA}.{SOURCE_TABLE} does not exist")
    return {str(name): str(kind) for name, kind in rows}


def _scope_condition(columns: Mapping[str, str]) -> sql.Composable:
    """Traded in the window, or (when the source says when it changed) updated in it."""
    traded = sql.SQL("(trading_datetime >= %(start)s and trading_datetime < %(end)s)")
    updated = next((name for name in UPDATED_AT_COLUMNS if name in columns), None)
    if updated is None:
        return traded
    return sql.SQL("({} or ({col} >= %(start)s and {col} < %(end)s))").format(
        traded, col=sql.Identifier(updated)
    )


def _candidate_condition(columns: Mapping[str, str]) -> sql.Composable:
    """Rows dbt did not already block: no reason code (single or list form of the contract)."""
    parts: list[sql.Composable] = []
    if "reason_code" in columns:
        parts.append(sql.SQL("reason_code is null"))
    if "reason_codes" in columns:
        if columns["reason_codes"] == "ARRAY":
            parts.append(sql.SQL("coalesce(cardinality(reason_codes), 0) = 0"))
        else:
            parts.append(sql.SQL("coalesce(reason_codes::text, '') in ('', '[]', '{}')"))
    return sql.SQL(" and ").join(parts) if parts else sql.SQL("true")


def _row_context(
    row: Mapping[str, Any], main: RuleContext, start: datetime, late: dict[date, RuleContext]
) -> RuleContext:
    """The main period's context, or for a late correction one starting on its trade date."""
    moment = as_datetime(row.get("trading_datetime"))
    if moment is None or moment.utcoffset() is None or moment >= start:
        return main
    day = moment.astimezone(UTC).date()
    if day not in late:
        late[day] = RuleContext(day, main.period_end, main.refdata)
    return late[day]


def _copy(conn: psycopg.Connection[Any], rows: Iterable[tuple[Any, ...]]) -> None:
    statement = sql.SQL("copy regreport.rule_violations ({}) from stdin").format(
        sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
    )
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


#: Record columns that may hold an LEI the GLEIF rules look up (LEI-typed ids only).
_LEI_COLUMNS = (
    "executing_entity_lei",
    "submitting_entity_lei",
    "transmitting_firm_buyer_lei",
    "transmitting_firm_seller_lei",
)
_TYPED_LEI_COLUMNS = (
    ("buyer_id", "buyer_id_type"),
    ("seller_id", "seller_id_type"),
    ("buyer_decision_maker_id", "buyer_decision_maker_type"),
    ("seller_decision_maker_id", "seller_decision_maker_type"),
)


def _run_refdata(
    conn: psycopg.Connection[Any],
    candidates: sql.Composable,
    columns: Mapping[str, str],
    params: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """The run's FIRDS and GLEIF entries (`RefData` keyword arguments) and what was skipped.

    One query per table, restricted to the identifiers of the candidates (`candidates` is the
    ``from ... where ...`` of the candidate rows): the gate never reads a whole FIRDS table.
    """
    from regreport import refdata

    found: dict[str, Any] = {}
    notes: list[str] = []

    def ids(exprs: list[sql.Composable]) -> sql.Composable:
        return sql.SQL("select unnest(array[{}]::text[]) {}").format(
            sql.SQL(", ").join(exprs), candidates
        )

    isin_exprs = [sql.Identifier(c) for c in ("instrument_isin", "underlying_isin") if c in columns]
    lei_exprs: list[sql.Composable] = [sql.Identifier(c) for c in _LEI_COLUMNS if c in columns]
    lei_exprs += [
        sql.SQL("case when {} = 'LEI' then {} end").format(sql.Identifier(kind), sql.Identifier(c))
        for c, kind in _TYPED_LEI_COLUMNS
        if c in columns and kind in columns
    ]
    for key, table, label, exprs, lookup in (
        ("firds", refdata.FIRDS_TABLE, "FIRDS", isin_exprs, refdata.firds_lookup),
        ("gleif", refdata.GLEIF_TABLE, "GLEIF", lei_exprs, refdata.gleif_lookup),
    ):
        if not refdata.is_loaded(conn, table):
            notes.append(f"refdata: {label} not loaded, REF rules on it skipped")
            continue
        found[key] = lookup(conn, ids(exprs), params) if exprs else {}
    for note in notes:
        log.info("%s", note)
    return found, notes


def run_gate(
    conn: psycopg.Connection[Any],
    start: date | datetime,
    end: date | datetime,
    refdata_dir: Path,
    run_id: str,
) -> GateResult:
    """Evaluate the rule catalogue on a run's candidates and replace the scope's violations.

    Args:
        conn: a psycopg connection to the warehouse; the work runs in one transaction on it.
        start: first instant (or UTC day) of the run window, inclusive.
        end: end of the run window, exclusive.
        refdata_dir: the reference data directory (`Settings.refdata_dir`).
        run_id: extract run id stored with each violation for lineage.

    Returns:
        Counts of what was evaluated and found.

    Raises:
        RuleCatalogueError: a catalogue rule has no implementation.
        LookupError: the intermediate model does not exist.
        ValueError: `start`/`end` are naive datetimes or `end` is not after `start`.
    """
    start_utc, end_utc = _utc(start), _utc(end)
    if end_utc <= start_utc:
        raise ValueError("run_gate needs end after start")
    missing, _ = catalogue_mismatches()
    if missing:
        raise RuleCatalogueError(f"rules without implementation: {', '.join(missing)}")
    rules = [(code, CATALOGUE[code].severity, implementations()[code]) for code in CATALOGUE]
    first_day, after_last = _period_days(start_utc, end_utc)
    late: dict[date, RuleContext] = {}
    params = {"start": start_utc, "end": end_utc, "first_day": first_day, "after": after_last}

    by_code: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    blocked: set[int] = set()
    # Violations are per execution: both records of a matched-principal fill share its id.
    seen: set[tuple[int, str]] = set()
    evaluated = 0
    with conn.transaction():
        ensure_schema(conn)
        columns = _source_columns(conn)
        source = sql.Identifier(SOURCE_SCHEMA, SOURCE_TABLE)
        scope = _scope_condition(columns)
        conn.execute("create temporary table if not exists _rule_gate_scope (execution_id bigint)")
        conn.execute("truncate _rule_gate_scope")
        conn.execute(
            sql.SQL(
                "insert into _rule_gate_scope select distinct execution_id from {} where {}"
            ).format(source, scope),
            params,
        )
        scope_count = conn.execute("select count(*) from _rule_gate_scope").fetchone()
        conn.execute(
            "delete from regreport.rule_violations v where v.execution_id in"
            " (select execution_id from _rule_gate_scope)"
            " or (v.trading_date >= %(first_day)s and v.trading_date < %(after)s)",
            params,
        )
        query = sql.SQL("select * from {} where {} and {} order by execution_id").format(
            source, scope, _candidate_condition(columns)
        )
        tables, notes = _run_refdata(
            conn,
            sql.SQL("from {} where {} and {}").format(source, scope, _candidate_condition(columns)),
            columns,
            params,
        )
        main = RuleContext(first_day, after_last, RefData(Path(refdata_dir), **tables))
        with conn.cursor(name="rule_gate_candidates", row_factory=dict_row) as cursor:
            cursor.itersize = BATCH_ROWS
            cursor.execute(query, params)
            while batch := cursor.fetchmany(BATCH_ROWS):
                out: list[tuple[Any, ...]] = []
                for row in batch:
                    evaluated += 1
                    ctx = _row_context(row, main, start_utc, late)
                    day = trade_date(row) or first_day
                    for code, severity, rule in rules:
                        first = next(iter(rule(row, ctx)), None)
                        if first is None:
                            continue
                        key = (row["execution_id"], code)
                        if key in seen:  # the other leg of a matched-principal execution
                            continue
                        seen.add(key)
                        out.append((row["execution_id"], code, severity, first.field, day, run_id))
                        by_code[code] += 1
                        by_severity[severity] += 1
                        if severity == "error":
                            blocked.add(row["execution_id"])
                if out:
                    _copy(conn, out)
    result = GateResult(
        run_id=run_id,
        scope=int(scope_count[0]) if scope_count else 0,
        evaluated=evaluated,
        violations=sum(by_code.values()),
        blocked=len(blocked),
        by_code=dict(sorted(by_code.items())),
        by_severity=dict(sorted(by_severity.items())),
        notes=tuple(notes),
    )
    log.info("%s", result.summary())
    return result
