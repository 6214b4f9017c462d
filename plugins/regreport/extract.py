"""Copy one reporting period from the QSuite trading database into the warehouse `raw` schema.

Period tables (orders, executions, quotes) are replaced for the period only: a delete of the
period's rows and a COPY of the source rows, in one warehouse transaction, so a rerun gives the
same landing and a failed run leaves the previous one intact. Reference tables are small and are
replaced whole. Data moves source -> warehouse as a COPY stream; nothing is held in memory.

The run scope of a period P is every execution executed in P **or changed in P** (updated_at):
a fill of an earlier day that the back office amended or busted in P arrives with P's run, so
its correction (RTS 22 cancel + new) is reported with P. `raw.qsuite_executions` holds one row
per execution_id, its latest landed state.

A source without a key may hold one execution id twice. Such an id cannot be reported (which
copy is the trade?), but it must not stop the day either: one copy is landed, with
`_source_copies` set to the number of source rows, and the MiFIR models quarantine it
(`DUPLICATE_EXECUTION_ID`), counting every copy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

SOURCE_SCHEMA = "qsuite"
RAW_SCHEMA = "raw"

#: Period tables and the timestamp column that places a row in a reporting period
#: (executions by execution time, RTS 22 field 28, or by their last change, updated_at).
#: Executions land first: orders are the period's new orders plus any older order that an
#: execution of the run scope fills.
PERIOD_TABLES: dict[str, str] = {
    "executions": "executed_at",
    "quotes": "quoted_at",
    "orders": "created_at",
}
#: Raw columns a period is selected by (extract deletes, dbt period filters, scope joins).
_INDEXED: dict[str, tuple[str, ...]] = {
    "executions": ("executed_at", "updated_at", "execution_id"),
    "orders": ("created_at", "order_id"),
    "quotes": ("quoted_at",),
}
#: The temporary warehouse table holding the run scope's executions while they are landed.
_SCOPE = sql.Identifier("_extract_scope")
#: Raw executions only: how many source rows had this execution id (1 unless duplicated).
SOURCE_COPIES = "_source_copies"

#: Reference tables, copied whole: a report needs the state of accounts and instruments
#: as the firm holds it now, not only the rows that changed in the period.
REFERENCE_TABLES: tuple[str, ...] = (
    "firm",
    "venues",
    "accounts",
    "account_joint_holders",
    "traders",
    "algos",
    "instruments",
    "compliance_rules",
    "fx_rates",
)


@dataclass(frozen=True)
class ExtractResult:
    """What one extract landed: rows per raw table and the period it covered."""

    run_id: str
    period_start: datetime
    period_end: datetime
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: Executions of the run scope executed before the period (changed in it): corrections.
    corrections: int = 0


def _columns(src: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """Column names and SQL types of a source table, in table order."""
    rows = src.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod)
        from pg_attribute as a
        where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
        order by a.attnum
        """,
        (f"{SOURCE_SCHEMA}.{table}",),
    ).fetchall()
    if not rows:
        raise LookupError(f"source table {SOURCE_SCHEMA}.{table} has no columns or does not exist")
    return [(name, type_) for name, type_ in rows]


def _raw_columns(dst: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """Columns of raw.qsuite_<table> without the run id, in table order ([] if absent)."""
    rows = dst.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod)
        from pg_attribute as a
        where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
            and a.attname not in ('_extract_run_id', '_source_copies')
        order by a.attnum
        """,
        (f"{RAW_SCHEMA}.qsuite_{table}",),
    ).fetchall()
    return [(name, type_) for name, type_ in rows]


def _ensure_raw_table(
    dst: psycopg.Connection, table: str, columns: list[tuple[str, str]]
) -> sql.Identifier:
    """Create raw.qsuite_<table> mirroring the source columns, plus the extract run id.

    A raw table landed from an older source layout is dropped and recreated (with the
    staging views on it, which the next dbt build recreates): a COPY with the new column list
    would fail, and keeping old rows without the new columns would report them incompletely.
    """
    target = sql.Identifier(RAW_SCHEMA, f"qsuite_{table}")
    existing = _raw_columns(dst, table)
    if existing and existing != columns:
        log.warning(
            "raw.qsuite_%s has an older column layout (%d columns, source %d): recreating it; "
            "earlier periods must be re-extracted",
            table,
            len(existing),
            len(columns),
        )
        dst.execute(sql.SQL("drop table {} cascade").format(target))
    column_sql = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_)) for name, type_ in columns
    )
    dst.execute(
        sql.SQL("create table if not exists {} ({}, _extract_run_id text not null)").format(
            target, column_sql
        )
    )
    if (
        table == "executions"
        and not dst.execute(
            "select 1 from pg_attribute where attrelid = to_regclass(%s) and attname = %s"
            " and not attisdropped",
            (f"{RAW_SCHEMA}.qsuite_{table}", SOURCE_COPIES),
        ).fetchone()
    ):
        # Added to a table landed by an older release; every landed row was one source row.
        dst.execute(
            sql.SQL("alter table {} add column {} integer not null default 1").format(
                target, sql.Identifier(SOURCE_COPIES)
            )
        )
    # raw keeps every period landed: index what periods are found by, so a day's delete and
    # the dbt models' period filters do not scan all history.
    for column in _INDEXED.get(table, ()):
        dst.execute(
            sql.SQL("create index if not exists {} on {} ({})").format(
                sql.Identifier(f"qsuite_{table}_{column}_idx"), target, sql.Identifier(column)
            )
        )
    return target


_IN_PERIOD = "({ts} >= %(start)s and {ts} < %(end)s)"


def _in_period(table: str, ts_column: str) -> sql.Composable:
    """The predicate that selects a period's rows of `table` in the source.

    Executions: executed or changed in the period. Others: by their period column.
    """
    predicate = sql.SQL(_IN_PERIOD).format(ts=sql.Identifier(ts_column))
    if table == "executions":
        changed = sql.SQL(_IN_PERIOD).format(ts=sql.Identifier("updated_at"))
        return sql.SQL("({} or {})").format(predicate, changed)
    return predicate


def _period_select(table: str, ts_column: str) -> sql.Composable:
    """The source query of a period table's rows, in key order, with the run id appended.

    Orders: created in the period, plus the older orders that an execution of the run scope
    fills. That is a union of two index-driven selects, not ``created or order_id in
    (subquery)``: an ``or`` with a subquery cannot become a join, scans every order of all
    history, and re-runs the subquery per order once the scope outgrows work_mem.
    """
    source = sql.Identifier(SOURCE_SCHEMA, table)
    if table != "orders":
        return sql.SQL("select *, %(run_id)s::text from {} where {} order by 1").format(
            source, _in_period(table, ts_column)
        )
    created = sql.Identifier(ts_column)
    return sql.SQL(
        "select *, %(run_id)s::text from {orders} where {created_in}"
        " union all"
        " select o.*, %(run_id)s::text from {orders} as o"
        " join (select distinct order_id from {executions} where {scope}) as scope"
        " on scope.order_id = o.order_id"
        " where o.{created} < %(start)s or o.{created} >= %(end)s"
        " order by 1"
    ).format(
        orders=source,
        created_in=_in_period(table, ts_column),
        executions=sql.Identifier(SOURCE_SCHEMA, "executions"),
        scope=_in_period("executions", "executed_at"),
        created=created,
    )


def _land_executions(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    target: sql.Identifier,
    columns: list[tuple[str, str]],
    params: dict[str, object],
) -> tuple[int, int]:
    """Land the run scope's executions keyed by execution_id; return (rows, corrections).

    The scope is copied into a temporary table first: the warehouse must delete both the
    period's executed rows (some may no longer exist in the source) and the older rows of
    every execution in the scope, and only the scope knows the latter's ids.
    """
    dst.execute(
        sql.SQL("create temp table {} (like {} including defaults) on commit drop").format(
            _SCOPE, target
        )
    )
    select = _period_select("executions", "executed_at")
    rows = _copy(src, dst, select, _SCOPE, columns, params)
    _collapse_duplicates(dst)
    # Two deletes, the second a join: "or id in (subquery)" is rescanned per row once the
    # scope outgrows work_mem, and raw keeps every day landed.
    dst.execute(
        sql.SQL("delete from {} where {}").format(
            target, sql.SQL(_IN_PERIOD).format(ts=sql.Identifier("executed_at"))
        ),
        params,
    )
    dst.execute(
        sql.SQL(
            "delete from {} as landed using {} as scope"
            " where landed.execution_id = scope.execution_id"
        ).format(target, _SCOPE)
    )
    dst.execute(sql.SQL("insert into {} select * from {}").format(target, _SCOPE))
    corrections = dst.execute(
        sql.SQL("select count(*) from {} where executed_at < %(start)s").format(_SCOPE), params
    ).fetchone()
    return rows, int(corrections[0]) if corrections else 0


def _collapse_duplicates(dst: psycopg.Connection) -> None:
    """Keep one landed row per execution id, counting the source rows in `_source_copies`.

    The copy kept is the last changed (then the last landed): deterministic for a rerun.
    """
    duplicated = dst.execute(
        sql.SQL(
            "update {scope} as s set {copies} = d.n"
            " from (select execution_id, count(*) as n from {scope}"
            " group by execution_id having count(*) > 1) as d"
            " where s.execution_id = d.execution_id"
        ).format(scope=_SCOPE, copies=sql.Identifier(SOURCE_COPIES))
    ).rowcount
    if duplicated:
        dst.execute(
            sql.SQL(
                "delete from {scope} as a using {scope} as b"
                " where a.execution_id = b.execution_id and a.{copies} > 1"
                " and (a.updated_at, a.ctid) < (b.updated_at, b.ctid)"
            ).format(scope=_SCOPE, copies=sql.Identifier(SOURCE_COPIES))
        )
        log.warning(
            "%d source rows share an execution id with another row: one copy of each landed, "
            "to be quarantined as DUPLICATE_EXECUTION_ID",
            duplicated,
        )


def _copy(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    select: sql.Composable,
    target: sql.Identifier,
    columns: list[tuple[str, str]],
    params: dict[str, object],
) -> int:
    """Stream `select` from the source into `target` with COPY; return the row count."""
    names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    # The run id is appended by the source query so the stream needs no re-encoding.
    copy_out = sql.SQL("copy ({}) to stdout").format(select)
    copy_in = sql.SQL("copy {} ({}, _extract_run_id) from stdin").format(target, names)
    with (
        src.cursor() as scur,
        dst.cursor() as dcur,
        scur.copy(copy_out, params) as out,
        dcur.copy(copy_in) as inp,
    ):
        rows = 0
        for chunk in out:
            # COPY text format ends every row with a newline and escapes newlines in values.
            rows += bytes(chunk).count(b"\n")
            inp.write(chunk)
    return rows


#: The advisory lock (on the warehouse) one extract holds until it commits.
EXTRACT_LOCK = "regreport.extract"


def extract_period(
    source_dsn: str,
    warehouse_dsn: str,
    period_start: datetime,
    period_end: datetime,
    run_id: str,
    progress: Callable[[str], None] | None = None,
) -> ExtractResult:
    """Land the period's orders, executions and quotes, and all reference data, in `raw`.

    Executions: those executed in the period and those changed in it (corrections of earlier
    days), one raw row per execution_id. Orders: created in the period or filled by one of
    those executions.

    Args:
        source_dsn: libpq URI of the QSuite trading database.
        warehouse_dsn: libpq URI of the warehouse.
        period_start: inclusive start of the reporting period (tz-aware).
        period_end: exclusive end of the reporting period (tz-aware).
        run_id: identifies this extract in the landed rows and in the report manifest.
        progress: optional callback for one line per table.

    Returns:
        Row counts per raw table (executions: the run scope) and the number of corrections.
    """
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise ValueError("period bounds must be timezone-aware")
    if period_end <= period_start:
        raise ValueError(f"empty period: {period_start} .. {period_end}")
    started = time.perf_counter()
    rows: dict[str, int] = {}
    say = progress or log.info
    with psycopg.connect(source_dsn) as src, psycopg.connect(warehouse_dsn) as dst:
        # One extract at a time lands into `raw` (two DAGs, or a backfill and a scheduled run,
        # may extract at once): wait for the other to commit rather than interleave with it.
        dst.execute("select pg_advisory_xact_lock(hashtext(%s))", (EXTRACT_LOCK,))
        # A repeatable-read snapshot: every table is read as of the same instant.
        src.execute("set transaction isolation level repeatable read, read only")
        # The admin makes `raw` at setup; the extract role may not create schemas.
        if dst.execute("select to_regnamespace(%s)", (RAW_SCHEMA,)).fetchone()[0] is None:  # type: ignore[index]
            dst.execute(sql.SQL("create schema {}").format(sql.Identifier(RAW_SCHEMA)))
        for table in REFERENCE_TABLES:
            columns = _columns(src, table)
            target = _ensure_raw_table(dst, table, columns)
            dst.execute(sql.SQL("truncate {}").format(target))
            select = sql.SQL("select *, %(run_id)s::text from {} order by 1").format(
                sql.Identifier(SOURCE_SCHEMA, table)
            )
            rows[table] = _copy(src, dst, select, target, columns, {"run_id": run_id})
            say(f"extract {table}: {rows[table]:,} rows")
        bounds = {"start": period_start, "end": period_end, "run_id": run_id}
        corrections = 0
        for table, ts_column in PERIOD_TABLES.items():
            columns = _columns(src, table)
            target = _ensure_raw_table(dst, table, columns)
            if table == "executions":
                rows[table], corrections = _land_executions(src, dst, target, columns, bounds)
                say(
                    f"extract {table}: {rows[table]:,} rows for {period_start:%Y-%m-%d}"
                    f" ({corrections:,} corrections of earlier days)"
                )
                continue
            raw_predicate = sql.SQL(_IN_PERIOD).format(ts=sql.Identifier(ts_column))
            dst.execute(sql.SQL("delete from {} where {}").format(target, raw_predicate), bounds)
            if table == "orders":
                # ... and the orders of the landed scope (still in the temp table), as a join.
                dst.execute(
                    sql.SQL(
                        "delete from {} as landed using (select distinct order_id from {}) as scope"
                        " where landed.order_id = scope.order_id"
                    ).format(target, _SCOPE)
                )
            select = _period_select(table, ts_column)
            rows[table] = _copy(src, dst, select, target, columns, bounds)
            say(f"extract {table}: {rows[table]:,} rows for {period_start:%Y-%m-%d}")
        dst.commit()
    return ExtractResult(
        run_id=run_id,
        period_start=period_start,
        period_end=period_end,
        rows=rows,
        seconds=time.perf_counter() - started,
        corrections=corrections,
    )
