"""Bad source data through the whole MiFIR DAG: nothing accepted is withdrawn, nothing is lost.

A day is reported and accepted; then realistic defects are planted in the trading database, as
a bad write or a bad feed would leave them, and the day is run again:

- one client's LEI overwritten with a malformed value (every fill of that account);
- one off-venue counterparty's LEI with a wrong check digit;
- one share's ISIN with a wrong check digit (every fill of that share);
- one fill whose trade time moved a week into the future (a local or a wrong clock), which
  the run of that later day must not report as a new trade either;
- one fill held twice by the source (the same execution id, no key to stop it);
- one fill whose venue transaction id is not in the schema's pattern.

Each of those fills was reported and accepted the first time. The rerun must send no `Cxl` for
any of them: each is quarantined with its code, as an amendment held (the regulator keeps the
version it accepted), listed by `regreport exceptions`; the counts reconcile (every source row,
both copies of the duplicate included) and the run succeeds on time.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
import pytest
from click.testing import CliRunner

from regreport import local_airflow
from regreport.cli import main
from regreport.generator import generate
from regreport.pipeline import reconcile_with_regulator, summary_path
from regreport.services import gateway

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

pytestmark = pytest.mark.e2e
DAG_ID = "mifir_transactions_daily"
ORDERS = 300


@pytest.fixture(scope="module")
def prepared(services: Settings, gateway_service: Settings) -> Settings:
    local_airflow.prepare(services, log=lambda _line: None)
    return services


def _run(settings: Settings, day: date) -> int:
    gateway.publish_source_instruments(settings)
    return local_airflow.dags_test(settings, DAG_ID, day.isoformat())


def _summary(settings: Settings, day: date) -> dict:
    return json.loads(summary_path(settings, day).read_text())


def _reported(settings: Settings, day: date) -> dict[int, list[str]]:
    """Execution id -> the TxIds the first submission of `day` sent for it."""
    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = conn.execute(
            """
            select l.execution_id, l.tx_id from regreport.transaction_ledger as l
            join regreport.report_registry as g using (report_id)
            where g.period_start = %s and l.action = 'NEWT'
            """,
            (day,),
        ).fetchall()
    out: dict[int, list[str]] = {}
    for execution_id, tx_id in rows:
        out.setdefault(execution_id, []).append(tx_id)
    return out


def _one(conn: psycopg.Connection, query: str, params: tuple) -> tuple:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return tuple(row)


def _plant(conn: psycopg.Connection, day: date, reported: set[int]) -> dict[str, set[int]]:
    """Plant one defect of each kind on fills reported on `day`; return the fills per defect."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    bounds = (start, start + timedelta(days=1))
    fills = """
        select e.execution_id from qsuite.executions as e
        join qsuite.orders as o using (order_id)
        join qsuite.accounts as a using (account_id)
        join qsuite.instruments as i using (instrument_id)
        where e.executed_at >= %s and e.executed_at < %s and {where}
        order by 1
    """
    taken: set[int] = set()

    def pick(where: str, params: tuple = ()) -> set[int]:
        ids = {r[0] for r in conn.execute(fills.format(where=where), (*bounds, *params))}
        return ids & reported

    def smallest(rows: list[tuple[int, int]]) -> int:
        """The key with the fewest reported fills not taken yet (at least one)."""
        fills_of: dict[int, set[int]] = {}
        for key, execution_id in rows:
            if execution_id in reported and execution_id not in taken:
                fills_of.setdefault(key, set()).add(execution_id)
        return min(fills_of, key=lambda k: (len(fills_of[k]), k))

    by_account = fills.format(where="a.account_type = 'LEGAL' and not a.is_house").replace(
        "select e.execution_id", "select o.account_id, e.execution_id"
    )
    account = smallest(conn.execute(by_account, bounds).fetchall())
    client = pick("a.account_id = %s", (account,))
    conn.execute("update qsuite.accounts set lei = 'NOT-AN-LEI' where account_id = %s", (account,))
    taken |= client

    xoff = sorted(pick("e.venue_mic = 'XOFF' and e.counterparty_lei is not null") - taken)[0]
    (lei,) = _one(
        conn, "select counterparty_lei from qsuite.executions where execution_id = %s", (xoff,)
    )
    wrong_lei = lei[:-1] + str((int(lei[-1]) + 1) % 10)
    conn.execute(
        "update qsuite.executions set counterparty_lei = %s where execution_id = %s",
        (wrong_lei, xoff),
    )
    taken.add(xoff)

    by_share = fills.format(where="i.instrument_type = 'SHARE' and i.isin is not null").replace(
        "select e.execution_id", "select i.instrument_id, e.execution_id"
    )
    instrument = smallest(conn.execute(by_share, bounds).fetchall())
    (isin,) = _one(
        conn, "select isin from qsuite.instruments where instrument_id = %s", (instrument,)
    )
    conn.execute(
        "update qsuite.instruments set isin = %s where instrument_id = %s",
        (isin[:-1] + str((int(isin[-1]) + 1) % 10), instrument),
    )
    share = pick("i.instrument_id = %s", (instrument,))
    taken |= share

    future, duplicate, venue = sorted(pick("e.venue_mic <> 'XOFF'") - taken)[:3]
    conn.execute(
        "update qsuite.executions set executed_at = executed_at + interval '7 days'"
        " where execution_id = %s",
        (future,),
    )
    conn.execute("alter table qsuite.executions drop constraint executions_pkey")
    conn.execute(
        "insert into qsuite.executions select * from qsuite.executions where execution_id = %s",
        (duplicate,),
    )
    conn.execute(
        "update qsuite.executions set venue_transaction_id = lower(venue_transaction_id) || '-x'"
        " where execution_id = %s",
        (venue,),
    )
    return {
        "client": client,
        "counterparty": {xoff},
        "instrument": share,
        "future": {future},
        "duplicate": {duplicate},
        "venue_id": {venue},
    }


@pytest.fixture
def source_key_restored(prepared: Settings) -> Iterator[None]:
    """The test drops the source's primary key to plant a duplicate: put both back after."""
    yield
    with psycopg.connect(prepared.source_dsn) as conn:
        conn.execute(
            "delete from qsuite.executions as a using qsuite.executions as b"
            " where a.execution_id = b.execution_id and a.ctid > b.ctid"
        )
        conn.execute(
            "alter table qsuite.executions add constraint executions_pkey"
            " primary key (execution_id)"
        )


@pytest.mark.usefixtures("source_key_restored")
def test_bad_source_data_never_withdraws_an_accepted_report(prepared: Settings, fresh_day) -> None:
    settings = prepared
    day = fresh_day(settings, date(2026, 9, 1))
    generate(settings.source_dsn, day, orders=ORDERS, seed=31)
    assert _run(settings, day) == 0
    first = _summary(settings, day)
    assert first["regulator"]["files"][0]["status"] == "ACCEPTED"
    reported = _reported(settings, day)

    with psycopg.connect(settings.source_dsn) as conn:
        planted = _plant(conn, day, set(reported))
        source_rows = _one(
            conn,
            "select count(*) from qsuite.executions where (executed_at >= %(s)s and"
            " executed_at < %(e)s) or (updated_at >= %(s)s and updated_at < %(e)s)",
            {"s": day, "e": day + timedelta(days=1)},
        )[0]
    assert all(planted.values()), planted

    assert _run(settings, day) == 0  # one bad record never blocks the day
    second = _summary(settings, day)
    # Nothing cancelled, nothing sent: every defective fill keeps its accepted version.
    assert second["files"] == []
    assert second["changes"]["cancelled"] == second["changes"]["amended"] == 0
    defective = set().union(*planted.values())
    held_tx = sorted(tx for execution_id in defective for tx in reported[execution_id])
    assert second["changes"]["held_amendments"] == len(held_tx)

    # Every source row in exactly one bucket, both copies of the duplicate included.
    counts = second["counts"]
    assert counts["source_executions"] == source_rows == first["counts"]["source_executions"] + 1
    assert counts["reported"] + counts["quarantined"] + counts["not_reportable"] == source_rows
    assert second["scope"]["traded_later"] == 1
    by_code = {q["reason_code"]: q for q in second["quarantine"]}
    codes = {
        "client": "RR-LEI-001",
        "counterparty": "RR-LEI-002",
        "instrument": "RR-ISIN-002",
        "future": "TRADE_TIME_AFTER_PERIOD",
        "duplicate": "DUPLICATE_EXECUTION_ID",
        "venue_id": "RR-MIC-005",
    }
    for defect, code in codes.items():
        assert planted[defect] <= _quarantined(settings, code), defect
        assert by_code[code]["amendments_held"] >= 1, code
    assert by_code["DUPLICATE_EXECUTION_ID"]["count"] == 2  # both copies

    # `regreport exceptions` lists the amendments held (the test settings are in the env).
    result = CliRunner().invoke(main, ["exceptions", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)["amendments_held"]
    assert sorted(h["tx_id"] for h in listed) == held_tx

    # The regulator still holds the accepted versions; the future-dated fill is reconciled
    # with the day whose run read it, as quarantined (not lost, not reported later).
    recon = reconcile_with_regulator(settings.warehouse_dsn, settings.source_dsn, day)
    breaks = {b["tx_id"]: b for b in recon["breaks"]}
    (future,) = planted["future"]
    assert (breaks[f"QS{future}"]["bucket"], breaks[f"QS{future}"]["detail"]) == (
        "FIELDS_DIFFER",
        "QUARANTINED",
    )
    assert recon["counts"]["UNKNOWN_TO_SOURCE"] == 0

    # The day the bad trade time claims: the fill is quarantined there too (its trade time is
    # after the source recorded it), never reported as a new trade; the accepted one stands.
    later = day + timedelta(days=7)  # the same weekday: a business day
    assert _run(settings, later) == 0
    third = _summary(settings, later)
    assert third["files"] == []
    assert third["changes"]["held_amendments"] == len(reported[future])
    assert future in _quarantined(settings, "TRADE_TIME_AFTER_PERIOD")


def _quarantined(settings: Settings, code: str) -> set[int]:
    with psycopg.connect(settings.warehouse_dsn) as conn:
        return {
            r[0]
            for r in conn.execute(
                "select execution_id from reports.rpt_mifir_rts22_quarantine"
                " where %s = any(reason_codes)",
                (code,),
            )
        }
