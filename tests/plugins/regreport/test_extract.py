"""`extract_period`: the run scope (executed or changed in the period), idempotent landing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from regreport.extract import REFERENCE_TABLES, extract_period
from regreport.generator import correct_executions, generate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

DAY_1, DAY_2 = date(2026, 3, 12), date(2026, 3, 13)
ORDERS = 150
SRC, WH = "h1_extract_src", "h1_extract_wh"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _one(conn: psycopg.Connection, query: str, params: tuple = ()) -> int:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def dsns(pg_services: Settings) -> Iterator[tuple[str, str]]:
    """A source with two generated days and an empty warehouse, dropped afterwards."""
    admin = pg_services.dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (SRC, WH):
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    src, wh = pg_services.dsn(SRC), pg_services.dsn(WH)
    generate(src, DAY_1, orders=ORDERS, seed=42)
    generate(src, DAY_2, orders=ORDERS, seed=42)
    yield src, wh
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (SRC, WH):
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def _source_counts(src: str, day: date) -> dict[str, int]:
    start, end = _bounds(day)
    p = (start, end)
    with psycopg.connect(src) as conn:
        executed = _one(
            conn,
            "select count(*) from qsuite.executions where executed_at >= %s and executed_at < %s",
            p,
        )
        changed_earlier = _one(
            conn,
            "select count(*) from qsuite.executions"
            " where updated_at >= %s and updated_at < %s and executed_at < %s",
            (*p, start),
        )
        orders = _one(
            conn,
            "select count(*) from qsuite.orders where (created_at >= %s and created_at < %s)"
            " or order_id in (select order_id from qsuite.executions"
            " where (executed_at >= %s and executed_at < %s)"
            " or (updated_at >= %s and updated_at < %s))",
            (*p, *p, *p),
        )
        holders = _one(conn, "select count(*) from qsuite.account_joint_holders")
    return {
        "executed": executed,
        "corrections": changed_earlier,
        "orders": orders,
        "holders": holders,
    }


_RAW_EXECUTIONS = (
    "select execution_id, price, quantity, status, version, updated_at"
    " from raw.qsuite_executions order by execution_id"
)


@pytest.mark.integration
def test_corrections_land_with_the_period_they_were_made_in(
    dsns: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    src, wh = dsns
    with psycopg.connect(wh) as conn:  # a raw table from the layout before issue 3
        conn.execute(
            "create schema raw; create table raw.qsuite_executions (execution_id bigint,"
            " executed_at timestamptz, _extract_run_id text not null)"
        )
    with caplog.at_level("WARNING", logger="regreport.extract"):
        first = extract_period(src, wh, *_bounds(DAY_1), run_id="R1")
    assert any("older column layout" in r.message for r in caplog.records)
    expected_1 = _source_counts(src, DAY_1)
    assert first.rows["executions"] == expected_1["executed"]
    assert first.corrections == 0
    assert first.rows["orders"] == expected_1["orders"]
    assert first.rows["account_joint_holders"] == expected_1["holders"] > 0
    assert set(REFERENCE_TABLES) <= set(first.rows)

    # The back office amends 2 and cancels 1 fill of day 1 on day 2.
    with psycopg.connect(src) as conn:
        changed = correct_executions(conn, DAY_1, DAY_2, amend=2, cancel=1, seed=42)
        source_rows = {
            r[0]: r
            for r in conn.execute(
                "select execution_id, price, quantity, status, version, updated_at"
                " from qsuite.executions where execution_id = any(%s)",
                (changed,),
            ).fetchall()
        }

    second = extract_period(src, wh, *_bounds(DAY_2), run_id="R2")
    expected_2 = _source_counts(src, DAY_2)
    assert expected_2["corrections"] == len(changed)  # 2 amended + 1 cancelled = 3
    # The scope: day 2's fills plus the 3 corrected fills of day 1.
    assert second.rows["executions"] == expected_2["executed"] + len(changed)
    assert second.corrections == len(changed)
    assert second.rows["orders"] == expected_2["orders"]
    with psycopg.connect(wh) as conn:
        landed = {r[0]: r for r in conn.execute(_RAW_EXECUTIONS).fetchall()}
        # One row per execution: day 1's and day 2's, no duplicate of the corrected ones.
        assert len(landed) == expected_1["executed"] + expected_2["executed"]
        for execution_id in changed:
            assert landed[execution_id] == source_rows[execution_id]  # the latest version
            assert landed[execution_id][4] == 2
        run_ids = dict(
            conn.execute(
                "select execution_id, _extract_run_id from raw.qsuite_executions"
                " where execution_id = any(%s)",
                (changed,),
            ).fetchall()
        )
        assert set(run_ids.values()) == {"R2"}
        corrected_orders = _one(
            conn,
            "select count(*) from raw.qsuite_orders where _extract_run_id = 'R2' and order_id in"
            " (select order_id from raw.qsuite_executions where execution_id = any(%s))",
            (changed,),
        )
        assert corrected_orders == len(_orders_of(src, changed))
        orders_total = _one(conn, "select count(*) from raw.qsuite_orders")
        distinct_orders = _one(conn, "select count(distinct order_id) from raw.qsuite_orders")
        assert orders_total == distinct_orders

    # A rerun of day 2 lands the same rows; a rerun of day 1 keeps one row per execution.
    rerun = extract_period(src, wh, *_bounds(DAY_2), run_id="R3")
    assert (rerun.rows, rerun.corrections) == (second.rows, second.corrections)
    again_1 = extract_period(src, wh, *_bounds(DAY_1), run_id="R4")
    assert again_1.rows["executions"] == expected_1["executed"]
    assert again_1.corrections == 0
    with psycopg.connect(wh) as conn:
        assert {r[0]: r for r in conn.execute(_RAW_EXECUTIONS).fetchall()} == landed
        assert _one(conn, "select count(*) from raw.qsuite_orders") == orders_total


def _orders_of(src: str, execution_ids: list[int]) -> set[int]:
    with psycopg.connect(src) as conn:
        rows = conn.execute(
            "select order_id from qsuite.executions where execution_id = any(%s)", (execution_ids,)
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.integration
def test_an_extract_waits_for_the_one_in_progress(dsns: tuple[str, str]) -> None:
    """While another extract holds the warehouse's extract lock, a second one waits for it."""
    import threading

    from regreport.extract import EXTRACT_LOCK

    src, wh = dsns
    start, end = _bounds(DAY_1)
    done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            extract_period(src, wh, start, end, "waiting-run")
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            done.set()

    with psycopg.connect(wh, autocommit=True) as first:
        first.execute("select pg_advisory_lock(hashtext(%s))", (EXTRACT_LOCK,))
        thread = threading.Thread(target=second)
        thread.start()
        assert not done.wait(3.0), "the extract did not wait for the one in progress"
        first.execute("select pg_advisory_unlock(hashtext(%s))", (EXTRACT_LOCK,))
        assert done.wait(120)
    thread.join()
    assert errors == []
    with psycopg.connect(wh) as conn:
        landed = conn.execute("select distinct _extract_run_id from raw.qsuite_accounts").fetchall()
    assert landed == [("waiting-run",)]


@pytest.mark.integration
def test_a_duplicated_execution_id_lands_once_with_its_copies_counted(scratch_db) -> None:
    """A source without a key holds one execution id twice: one row lands, counting both.

    The day's other executions land as usual; a rerun lands the same (idempotent).
    """
    src, wh = scratch_db("h1_extract_dup_src"), scratch_db("h1_extract_dup_wh")
    generate(src, DAY_1, orders=30, seed=7)
    start, end = _bounds(DAY_1)
    with psycopg.connect(src) as conn:
        conn.execute("alter table qsuite.executions drop constraint executions_pkey")
        dup = _one(conn, "select min(execution_id) from qsuite.executions")
        # The second copy: the same id, another (later) update, e.g. a re-sent fill.
        conn.execute(
            "insert into qsuite.executions select * from qsuite.executions where execution_id = %s",
            (dup,),
        )
        conn.execute(
            "update qsuite.executions set price = price + 1, updated_at = updated_at"
            " + interval '1 minute' where ctid = (select max(ctid) from qsuite.executions"
            " where execution_id = %s)",
            (dup,),
        )
        rows = _one(
            conn,
            "select count(*) from qsuite.executions where executed_at >= %s and executed_at < %s",
            (start, end),
        )
    for run in ("dup-1", "dup-2"):
        result = extract_period(src, wh, start, end, run)
        assert result.rows["executions"] == rows  # every source row was read
        with psycopg.connect(wh) as conn:
            landed = conn.execute(
                "select count(*), count(distinct execution_id), sum(_source_copies)"
                " from raw.qsuite_executions"
            ).fetchone()
            assert landed == (rows - 1, rows - 1, rows)
            kept = conn.execute(
                "select _source_copies, updated_at from raw.qsuite_executions"
                " where execution_id = %s",
                (dup,),
            ).fetchall()
            assert len(kept) == 1
            assert kept[0][0] == 2  # the later copy is the one kept
