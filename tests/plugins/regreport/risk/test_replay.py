"""The replay on the real warehouse: landed orders, bad raw rows, reconciliation, reruns.

A day is generated into a scratch source, landed by the real extract into a scratch
warehouse, and four bad rows are added to `raw` the way a broken feed would land them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from regreport.extract import extract_period
from regreport.generator import generate
from regreport.risk import replay, store

if TYPE_CHECKING:
    from regreport.config import Settings

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 12)
ORDERS = 400


@pytest.fixture
def warehouse(scratch_db) -> str:  # noqa: ANN001
    source, dsn = scratch_db("risk_replay_src"), scratch_db("risk_replay_wh")
    generate(source, DAY, orders=ORDERS, seed=7)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    extract_period(source, dsn, start, start + timedelta(days=1), "risk-test")
    noon = start + timedelta(hours=12)
    with psycopg.connect(dsn) as conn:
        account, instrument = conn.execute(
            "select account_id, instrument_id from raw.qsuite_orders limit 1"
        ).fetchone()  # type: ignore[misc]
        bad = [
            (901, noon, "NO-SUCH-ACCOUNT", instrument, 10),
            (902, noon, account, 999_999, 10),
            (903, noon, account, instrument, -3),
            (904, None, account, instrument, None),
        ]
        for order_id, created, acct, instr, qty in bad:
            conn.execute(
                """insert into raw.qsuite_orders (order_id, account_id, instrument_id, side,
                       order_type, limit_price, quantity, time_in_force, status, created_at,
                       _extract_run_id)
                   values (%s, %s, %s, 'BUY', 'LIMIT', 10, %s, 'DAY', 'NEW', %s, 'bad-feed')""",
                (order_id, acct, instr, qty, created),
            )
        conn.commit()
    return dsn


def _rows(dsn: str, name: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            """select replay_date, seq, order_id, decision, check_id, outcome, reason, threshold,
                      observed, rule_id, rule_version, reference_price, reference_ts
               from regreport.compliance_checks where replay_id = %s
               order by replay_date, seq, check_id""",
            (name,),
        ).fetchall()


def test_every_order_is_decided_once_with_bad_input_flagged(warehouse: str) -> None:
    with psycopg.connect(warehouse) as conn:
        assert store.seed(conn) > 5
        conn.commit()
        landed = conn.execute(
            "select count(*) from raw.qsuite_orders where created_at::date = %s"
            " or created_at is null",
            (DAY,),
        ).fetchone()[0]  # type: ignore[index]
    summary = replay.run(warehouse, DAY, DAY)
    assert summary.orders == landed
    assert summary.accepted + summary.rejected + summary.invalid == summary.orders
    assert summary.invalid >= 4
    rows = _rows(warehouse, summary.replay_id)
    assert len(rows) == 14 * summary.orders  # one row per order and check
    reasons = {r[2]: r[6] for r in rows if r[4] == "INPUT"}
    assert reasons[901] == "UNKNOWN_ACCOUNT"
    assert reasons[902] == "UNKNOWN_INSTRUMENT"
    assert reasons[903] == "NON_POSITIVE_QUANTITY"
    assert reasons[904] == "MISSING_TIMESTAMP"
    # The seeded limits are live: every valid order met the firm's trading hours rule.
    hours = [r for r in rows if r[4] == "TRADING_HOURS" and r[5] != "NOT_EVALUATED"]
    assert {(r[5], r[9]) for r in hours} == {("PASS", "FIRM-HOURS")}


def test_a_rerun_replaces_its_rows_and_renders_the_same_bytes(
    warehouse: str, settings: Settings, tmp_path: Path
) -> None:
    local = dataclasses.replace(settings, output_dir=tmp_path)
    with psycopg.connect(warehouse) as conn:
        store.seed(conn)
        store.record_change(
            conn, rule_id="TEST-MAXQTY", changed_by="test", change_reason="candidate",
            rule_type="MAX_ORDER_QUANTITY", status="TESTING", threshold=1,
            effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        )  # fmt: skip
        conn.commit()
        latest = conn.execute(
            "select max(ruleset_version) from regreport.risk_rule_versions"
        ).fetchone()[0]  # type: ignore[index]
    first = replay.run(warehouse, DAY, DAY, ruleset_version=latest, include_testing=True)
    rows = _rows(warehouse, first.replay_id)
    built = replay.render(local, warehouse, first.replay_id)
    digests = [f["sha256"] for f in built["files"]]
    second = replay.run(warehouse, DAY, DAY, ruleset_version=latest, include_testing=True)
    assert _rows(warehouse, second.replay_id) == rows
    again = replay.render(local, warehouse, second.replay_id)
    assert [f["sha256"] for f in again["files"]] == digests
    for file in again["files"]:
        data = Path(file["report_path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == file["sha256"]
    # The TESTING rule (at most 1 unit) rejected every valid order of more than one unit.
    assert first.by_reason.get("MAX_ORDER_QUANTITY:ABOVE_MAX_QUANTITY", 0) > 0
    breaches = Path(again["files"][0]["report_path"]).read_text().splitlines()
    assert breaches[0].startswith("replay_date,seq,order_id,decision,check_id,reason")
    assert len(breaches) - 1 == first.breaches


def test_a_missing_order_fails_the_reconciliation(warehouse: str, monkeypatch) -> None:  # noqa: ANN001
    original = store.load_day

    def lose_one(conn, day, book, *, with_undated=False):  # noqa: ANN001, ANN202
        orders, universe = original(conn, day, book, with_undated=with_undated)
        return orders.slice(1, len(orders)), universe

    monkeypatch.setattr(store, "load_day", lose_one)
    with pytest.raises(replay.ReplayReconciliationError, match="orders landed"):
        replay.run(warehouse, DAY, DAY)


def test_unknown_ruleset_version_is_an_error(warehouse: str) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        replay.run(warehouse, DAY, DAY, ruleset_version=10_000)
