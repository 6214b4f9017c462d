"""Copy one reporting period from the QSuite trading database into the warehouse `raw` schema.

Period tables (orders, executions, quotes) are replaced for the period only: a delete of the
period's rows and a COPY of the source rows, in one warehouse transaction, so a rerun gives the
same landing and a failed run leaves the previous one intact. Reference tables are small and are
replaced whole. Data moves source -> warehouse as a COPY stream; nothing is held in memory.
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
#: (executions by execution time, RTS 22 field 28). Executions land first: orders are the
#: period's new orders plus any older order that the period's executions fill.
PERIOD_TABLES: dict[str, str] = {
    "executions": "executed_at",
    "quotes": "quoted_at",
    "orders": "created_at",
}

#: Reference tables, copied whole: a report needs the state of accounts and instruments
#: as the firm holds it now, not only the rows that changed in the period.
REFERENCE_TABLES: tuple[str, ...] = (
    "firm",
    "venues",
    "accounts",
    "traders",
    "algos",
    "instruments",
    "compliance_rules",
)


@dataclass(frozen=True)
class ExtractResult:
    """What one extract landed: rows per raw table and the period it covered."""

    run_id: str
    period_start: datetime
    period_end: datetime
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


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


def _ensure_raw_table(
    dst: psycopg.Connection, table: str, columns: list[tuple[str, str]]
) -> sql.Identifier:
    """Create raw.qsuite_<table> mirroring the source columns, plus the extract run id."""
    target = sql.Identifier(RAW_SCHEMA, f"qsuite_{table}")
    column_sql = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_)) for name, type_ in columns
    )
    dst.execute(
        sql.SQL("create table if not exists {} ({}, _extract_run_id text not null)").format(
            target, column_sql
        )
    )
    return target


def _in_period(table: str, ts_column: str, schema: str, prefix: str) -> sql.Composable:
    """The predicate that selects a period's rows of `table`, in the source or in `raw`."""
    ts = sql.Identifier(ts_column)
    predicate = sql.SQL("({ts} >= %(start)s and {ts} < %(end)s)").format(ts=ts)
    if table != "orders":
        return predicate
    executions = sql.Identifier(schema, f"{prefix}executions")
    return sql.SQL(
        "({} or order_id in (select order_id from {}"
        " where executed_at >= %(start)s and executed_at < %(end)s))"
    ).format(predicate, executions)


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


def extract_period(
    source_dsn: str,
    warehouse_dsn: str,
    period_start: datetime,
    period_end: datetime,
    run_id: str,
    progress: Callable[[str], None] | None = None,
) -> ExtractResult:
    """Land the period's orders, executions and quotes, and all reference data, in `raw`.

    Args:
        source_dsn: libpq URI of the QSuite trading database.
        warehouse_dsn: libpq URI of the warehouse.
        period_start: inclusive start of the reporting period (tz-aware).
        period_end: exclusive end of the reporting period (tz-aware).
        run_id: identifies this extract in the landed rows and in the report manifest.
        progress: optional callback for one line per table.

    Returns:
        Row counts per raw table.
    """
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise ValueError("period bounds must be timezone-aware")
    if period_end <= period_start:
        raise ValueError(f"empty period: {period_start} .. {period_end}")
    started = time.perf_counter()
    rows: dict[str, int] = {}
    say = progress or log.info
    with psycopg.connect(source_dsn) as src, psycopg.connect(warehouse_dsn) as dst:
        # A repeatable-read snapshot: every table is read as of the same instant.
        src.execute("set transaction isolation level repeatable read, read only")
        dst.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(RAW_SCHEMA)))
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
        for table, ts_column in PERIOD_TABLES.items():
            columns = _columns(src, table)
            target = _ensure_raw_table(dst, table, columns)
            dst.execute(
                sql.SQL("delete from {} where {}").format(
                    target, _in_period(table, ts_column, RAW_SCHEMA, "qsuite_")
                ),
                bounds,
            )
            select = sql.SQL("select *, %(run_id)s::text from {} where {} order by 1").format(
                sql.Identifier(SOURCE_SCHEMA, table),
                _in_period(table, ts_column, SOURCE_SCHEMA, ""),
            )
            rows[table] = _copy(src, dst, select, target, columns, bounds)
            say(f"extract {table}: {rows[table]:,} rows for {period_start:%Y-%m-%d}")
        dst.commit()
    return ExtractResult(
        run_id=run_id,
        period_start=period_start,
        period_end=period_end,
        rows=rows,
        seconds=time.perf_counter() - started,
    )
