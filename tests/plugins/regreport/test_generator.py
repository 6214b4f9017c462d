"""The synthetic QSuite generator: deterministic, internally consistent, idempotent when loaded."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from regreport import generator
from regreport.generator import (
    DAY_TABLES,
    REFERENCE_TABLES,
    TABLES,
    DayData,
    ReferenceData,
    build_day,
    build_reference_data,
    copy_text,
    create_schema,
    generate,
    load,
)
from regreport.identifiers import (
    CONCAT_PATTERN,
    NATIONAL_ID_PATTERN,
    concat_national_id,
    is_valid_isin,
    is_valid_lei,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

DAY = date(2026, 3, 13)
ORDERS = 4_000


def _stream_sha256(ref: ReferenceData, day: DayData) -> str:
    digest = hashlib.sha256()
    for table in REFERENCE_TABLES:
        digest.update(f"#{table}\n".encode())
        for line in copy_text(ref.rows[table]):
            digest.update(line.encode())
    for table in DAY_TABLES:
        digest.update(f"#{table}\n".encode())
        for line in copy_text(getattr(day, table)):
            digest.update(line.encode())
    return digest.hexdigest()


def _digest(trade_date: date, orders: int, seed: int) -> str:
    ref = build_reference_data(seed)
    return _stream_sha256(ref, build_day(ref, trade_date, orders, seed))


def _micros(timestamp: str, trade_date: date = DAY) -> int:
    """Microseconds after midnight of a rendered timestamp, asserting its date and zone."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})\+00", timestamp)
    assert match, timestamp
    assert match.group(1) == trade_date.isoformat()
    hours, minutes, seconds, micros = (int(g) for g in match.groups()[1:])
    return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return build_reference_data(42)


@pytest.fixture(scope="module")
def day(ref: ReferenceData) -> DayData:
    return build_day(ref, DAY, ORDERS, 42)


# ------------------------------------------------------------------------------ determinism


@pytest.mark.unit
def test_same_inputs_give_the_same_row_stream(ref: ReferenceData, day: DayData) -> None:
    assert _stream_sha256(ref, day) == _digest(DAY, ORDERS, 42)


@pytest.mark.unit
def test_row_stream_does_not_depend_on_hash_randomisation() -> None:
    code = (
        "from datetime import date; from tests.plugins.regreport.test_generator import _digest;"
        f"print(_digest(date({DAY.year}, {DAY.month}, {DAY.day}), 500, 42))"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[3],
        )
        digests.add(result.stdout.strip())
    assert digests == {_digest(DAY, 500, 42)}


@pytest.mark.unit
def test_another_seed_or_date_gives_other_data() -> None:
    base = _digest(DAY, 500, 42)
    assert _digest(DAY, 500, 43) != base
    assert _digest(DAY + timedelta(days=1), 500, 42) != base


@pytest.mark.unit
def test_reference_data_depends_on_the_seed_only() -> None:
    assert build_reference_data(42).rows == build_reference_data(42).rows
    assert build_reference_data(42).rows != build_reference_data(7).rows

    def keys(ref: ReferenceData) -> dict[str, list[tuple[str | None, ...]]]:
        return {
            table: [tuple(r[TABLES[table][0].index(k)] for k in TABLES[table][1]) for r in rows]
            for table, rows in ref.rows.items()
        }

    keys_42, keys_7 = keys(build_reference_data(42)), keys(build_reference_data(7))
    assert keys_42 == keys_7  # keys are seed-independent, so an upsert replaces a seed's rows


@pytest.mark.unit
def test_ids_are_derived_from_the_date(day: DayData) -> None:
    prefix = DAY.strftime("%Y%m%d")
    assert all(row[0] and row[0].startswith(prefix) for row in day.orders)
    assert all(row[0] and row[0].startswith(prefix) for row in day.executions)
    assert len({row[0] for row in day.orders}) == len(day.orders) == ORDERS


@pytest.mark.unit
def test_order_count_bounds() -> None:
    ref = build_reference_data(1)
    with pytest.raises(ValueError, match="orders must be between"):
        build_day(ref, DAY, 0)
    tiny = build_day(ref, DAY, 1)
    assert len(tiny.orders) == 1
    assert tiny.no_isin_executions >= 1


@pytest.mark.unit
def test_progress_is_reported_about_every_ten_percent(ref: ReferenceData) -> None:
    calls: list[tuple[str, int, int]] = []
    build_day(ref, DAY, 1_000, 42, progress=lambda *args: calls.append(args))
    order_calls = [c for c in calls if c[0] == "generate orders"]
    assert len(order_calls) == 10
    assert order_calls[-1] == ("generate orders", 1_000, 1_000)
    assert {c[0] for c in calls} == {"generate quotes", "generate orders", "generate executions"}


# ------------------------------------------------------------------------------ reference data


@pytest.mark.unit
def test_exactly_one_instrument_lacks_an_isin(ref: ReferenceData, day: DayData) -> None:
    rows = ref.rows["instruments"]
    missing = [r for r in rows if r[1] is None]
    assert len(missing) == 1
    assert missing[0][0] == str(ref.no_isin_instrument_id)
    assert all(is_valid_isin(r[1]) for r in rows if r[1] is not None)
    assert len({r[1] for r in rows}) == len(rows)
    assert 35 <= len(rows) <= 45
    assert day.no_isin_executions >= 1
    assert day.no_isin_executions < len(day.executions) * 0.05  # lightly traded


@pytest.mark.unit
def test_instruments_are_consistent(ref: ReferenceData) -> None:
    venues = {r[0]: r for r in ref.rows["venues"]}
    ccy_by_country = {"GB": {"GBP", "USD"}}
    for row in ref.rows["instruments"]:
        _, isin, cfi, _, currency, mic, kind, tick, price = row
        assert cfi == ("ESVUFR" if kind == "SHARE" else "CEOGEU")
        assert mic in venues
        assert currency in ccy_by_country.get(venues[mic][3], {"EUR"})
        assert Decimal(price) % Decimal(tick) == 0
        assert Decimal(price) > 0


@pytest.mark.unit
def test_all_leis_are_valid(ref: ReferenceData) -> None:
    firm = ref.rows["firm"][0]
    assert is_valid_lei(firm[1])
    ccps = [r[4] for r in ref.rows["venues"]]
    assert any(c is None for c in ccps)
    assert all(is_valid_lei(c) for c in ccps if c is not None)
    for account in ref.rows["accounts"]:
        if account[1] == "LEGAL":
            assert is_valid_lei(account[3]), account
        else:
            assert account[3] is None


@pytest.mark.unit
def test_house_accounts_carry_the_firm_lei(ref: ReferenceData) -> None:
    house = [a for a in ref.rows["accounts"] if a[2] == "t"]
    assert [a[0] for a in house] == list(ref.house_account_ids)
    assert all(a[1] == "LEGAL" and a[3] == ref.firm_lei for a in house)


@pytest.mark.unit
def test_account_mix(ref: ReferenceData) -> None:
    clients = [a for a in ref.rows["accounts"] if a[2] == "f"]
    natural = [a for a in clients if a[1] == "NATURAL"]
    assert 200 <= len(clients) <= 500
    assert 0.2 <= len(natural) / len(clients) <= 0.4
    assert {a[8] for a in natural} >= {"FR", "DE", "NL", "IT", "ES", "GB"}
    assert {a[10] for a in natural} == {"CONCAT", "NIDN", "CCPT"}
    assert Counter(a[10] for a in natural).most_common(1)[0][0] == "CONCAT"


def _people(ref: ReferenceData) -> Iterator[tuple[str, str, str, str, str, str]]:
    for a in ref.rows["accounts"]:
        if a[1] == "NATURAL":
            yield tuple(str(v) for v in a[5:11])  # type: ignore[misc]
    for t in ref.rows["traders"]:
        yield tuple(str(v) for v in t[1:7])  # type: ignore[misc]


@pytest.mark.unit
def test_natural_person_identifiers(ref: ReferenceData) -> None:
    for first, surname, born, nationality, national_id, id_type in _people(ref):
        birth = date.fromisoformat(born)
        assert date(1940, 1, 1) <= birth <= date(2001, 1, 1)  # adults on any recent trade date
        assert NATIONAL_ID_PATTERN.fullmatch(national_id)
        assert national_id.startswith(nationality)
        if id_type == "CONCAT":
            assert CONCAT_PATTERN.fullmatch(national_id)
            assert national_id == concat_national_id(nationality, birth, first, surname)
        else:
            assert re.fullmatch(r"[A-Z]{2}[A-Z0-9]{1,33}", national_id)
            assert (nationality, id_type) in {("IT", "NIDN"), ("ES", "NIDN"), ("NL", "CCPT")}


@pytest.mark.unit
def test_traders_and_algos(ref: ReferenceData) -> None:
    assert 10 <= len(ref.rows["traders"]) <= 20
    assert all(t[7] and re.fullmatch(r"[A-Z]{2}", t[7]) for t in ref.rows["traders"])
    assert 3 <= len(ref.rows["algos"]) <= 8
    assert all(re.fullmatch(r"[A-Z0-9]{1,50}", a[0] or "") for a in ref.rows["algos"])


# ------------------------------------------------------------------------------ the day


@pytest.fixture(scope="module")
def fills_by_order(day: DayData) -> dict[str, list[tuple[str | None, ...]]]:
    grouped: dict[str, list[tuple[str | None, ...]]] = defaultdict(list)
    for execution in day.executions:
        grouped[execution[1] or ""].append(execution)
    return grouped


@pytest.mark.unit
def test_statuses_match_fills(day: DayData, fills_by_order: dict) -> None:
    for order in day.orders:
        quantity, status = Decimal(order[8] or "0"), order[10]
        filled = sum(Decimal(f[3] or "0") for f in fills_by_order.get(order[0] or "", []))
        assert all(Decimal(f[3] or "0") > 0 for f in fills_by_order.get(order[0] or "", []))
        assert filled <= quantity
        if status == "FILLED":
            assert filled == quantity
            assert 1 <= len(fills_by_order[order[0] or ""]) <= 4
        elif status == "PARTIALLY_FILLED":
            assert 0 < filled < quantity
        elif status == "NEW":
            assert filled == 0
        else:
            assert status == "CANCELLED"
            assert filled < quantity


@pytest.mark.unit
def test_status_mix(day: DayData, fills_by_order: dict) -> None:
    share = {k: v / ORDERS for k, v in Counter(o[10] for o in day.orders).items()}
    assert 0.50 <= share["FILLED"] <= 0.60
    assert 0.30 <= share["CANCELLED"] <= 0.40
    partial_cancels = sum(1 for o in day.orders if o[10] == "CANCELLED" and o[0] in fills_by_order)
    assert 0.11 <= partial_cancels / ORDERS <= 0.19
    assert 0.05 <= share["NEW"] + share["PARTIALLY_FILLED"] <= 0.15
    limits = sum(1 for o in day.orders if o[6] == "LIMIT") / ORDERS
    assert 0.75 <= limits <= 0.85
    algos = sum(1 for o in day.orders if o[4] is not None) / ORDERS
    assert 0.55 <= algos <= 0.65


@pytest.mark.unit
def test_orders_are_well_formed(ref: ReferenceData, day: DayData) -> None:
    ticks = {r[0]: Decimal(r[7] or "0") for r in ref.rows["instruments"]}
    open_us, close_us = generator.SESSION_OPEN_US, generator.SESSION_CLOSE_US
    for order in day.orders:
        assert (order[3] is None) != (order[4] is None)  # a trader or an algo, not both
        created, updated = _micros(order[11] or ""), _micros(order[12] or "")
        assert open_us <= created <= updated <= close_us
        if order[6] == "LIMIT":
            assert Decimal(order[7] or "0") % ticks[order[2]] == 0
            assert Decimal(order[7] or "0") > 0
        else:
            assert order[7] is None
            assert order[10] in ("FILLED", "CANCELLED")
        assert Decimal(order[8] or "0") == int(Decimal(order[8] or "0")) > 0
    created_times = [_micros(o[11] or "") for o in day.orders]
    assert created_times == sorted(created_times)  # ids follow arrival


@pytest.mark.unit
def test_intraday_volume_is_u_shaped(day: DayData) -> None:
    hours = Counter(_micros(o[11] or "") // 3_600_000_000 for o in day.orders)
    assert hours[8] > hours[12]
    assert hours[15] > hours[12]


@pytest.mark.unit
def test_executions_are_consistent_with_orders(ref: ReferenceData, day: DayData) -> None:
    orders = {o[0]: o for o in day.orders}
    instruments = {r[0]: r for r in ref.rows["instruments"]}
    venue_mics = {r[0] for r in ref.rows["venues"]}
    house = set(ref.house_account_ids)
    for execution in day.executions:
        order = orders[execution[1]]
        instrument = instruments[order[2]]
        executed = _micros(execution[2] or "")
        assert _micros(order[11] or "") < executed <= _micros(order[12] or "")
        price, tick = Decimal(execution[4] or "0"), Decimal(instrument[7] or "0")
        assert price > 0
        assert price % tick == 0
        if order[7] is not None:  # never through the limit
            limit = Decimal(order[7])
            assert price <= limit if order[5] == "BUY" else price >= limit
        assert execution[5] == instrument[4]  # currency
        assert execution[6] in venue_mics
        assert execution[8] == ("DEAL" if order[1] in house else execution[8])
        assert (execution[8] == "DEAL") == (order[1] in house)
    venue_ids = [e[7] or "" for e in day.executions]
    assert len(set(venue_ids)) == len(venue_ids)
    assert all(re.fullmatch(r"[A-Z0-9]{1,52}", v) for v in venue_ids)
    primary = {r[0]: r[5] for r in ref.rows["instruments"]}
    on_primary = sum(1 for e in day.executions if e[6] == primary[orders[e[1]][2]])
    assert 0.6 <= on_primary / len(day.executions) <= 0.8


@pytest.mark.unit
def test_execution_prices_sit_near_the_nbbo(ref: ReferenceData, day: DayData) -> None:
    quotes: dict[str, list[tuple[int, Decimal, Decimal]]] = defaultdict(list)
    for q in day.quotes:
        quotes[q[0] or ""].append((_micros(q[1] or ""), Decimal(q[2] or "0"), Decimal(q[4] or "0")))
    orders = {o[0]: o for o in day.orders}
    far = 0
    for execution in day.executions:
        series = quotes[orders[execution[1]][2]]
        at = _micros(execution[2] or "")
        _, bid, ask = max((q for q in series if q[0] <= at), key=lambda q: q[0])
        price = Decimal(execution[4] or "0")
        if not bid <= price <= ask:
            far += 1
            assert abs(price - (bid + ask) / 2) / ((bid + ask) / 2) < Decimal("0.01")
    assert far / len(day.executions) < 0.03  # a passive fill the market never came back to


@pytest.mark.unit
def test_quotes_are_a_sane_nbbo(ref: ReferenceData, day: DayData) -> None:
    ticks = {r[0]: Decimal(r[7] or "0") for r in ref.rows["instruments"]}
    keys = set()
    for q in day.quotes:
        bid, ask, tick = Decimal(q[2] or "0"), Decimal(q[4] or "0"), ticks[q[0]]
        assert 0 < bid < ask
        assert ask - bid >= tick
        assert bid % tick == 0
        assert ask % tick == 0
        assert int(q[3] or "0") > 0
        assert int(q[5] or "0") > 0
        keys.add((q[0], q[1]))
        micros = _micros(q[1] or "")
        assert generator.SESSION_OPEN_US <= micros < generator.SESSION_CLOSE_US
    assert len(keys) == len(day.quotes)  # the (instrument_id, quoted_at) key is unique
    assert {q[0] for q in day.quotes} == set(ticks)
    assert 3 * ORDERS <= len(day.quotes) <= 6 * ORDERS


@pytest.mark.unit
def test_default_day_size() -> None:
    stream = generator.DayStream(build_reference_data(42), DAY, 50_000, 42)
    assert 100_000 <= stream.quote_total <= 300_000


# ------------------------------------------------------------------------------ PostgreSQL


_CHECKSUM = (
    "select count(*), md5(coalesce(string_agg(t::text, '|' order by {key}), '')) from {table} t"
)


def _checksums(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    result = {}
    for table, (_, key) in TABLES.items():
        query = _CHECKSUM.format(key=", ".join(key), table=f"qsuite.{table}")
        row = conn.execute(query).fetchone()  # type: ignore[call-overload]
        assert row is not None
        result[table] = (row[0], row[1])
    return result


@pytest.fixture
def source_dsn(pg_services: Settings) -> Iterator[str]:
    """A scratch database of the test cluster, so other tests' data cannot interfere."""
    name = "regreport_generator_test"
    admin = pg_services.dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    yield pg_services.dsn(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")


@pytest.mark.integration
def test_generate_loads_idempotently_and_days_accumulate(source_dsn: str) -> None:
    first_day, second_day, orders = date(2026, 3, 12), date(2026, 3, 13), 3_000
    stats = generate(source_dsn, first_day, orders=orders, seed=42)
    assert stats.orders == orders
    with psycopg.connect(source_dsn) as conn:
        counts = {t: c for t, (c, _) in _checksums(conn).items()}
        assert counts["orders"] == stats.orders
        assert counts["executions"] == stats.executions
        assert counts["quotes"] == stats.quotes
        assert counts["accounts"] == stats.accounts
        assert counts["instruments"] == stats.instruments
        no_isin = conn.execute(
            "select count(*) from qsuite.executions e join qsuite.orders o using (order_id)"
            " join qsuite.instruments i using (instrument_id) where i.isin is null"
        ).fetchone()
        assert no_isin == (stats.no_isin_executions,)
        assert stats.no_isin_executions >= 1
        before = _checksums(conn)

    # The materialised rows (what the unit tests check) load to exactly the same tables.
    ref = build_reference_data(42)
    with psycopg.connect(source_dsn) as conn:
        load(conn, ref, build_day(ref, first_day, orders, 42))
        assert _checksums(conn) == before

    rerun = generate(source_dsn, first_day, orders=orders, seed=42)
    assert rerun.executions == stats.executions
    with psycopg.connect(source_dsn) as conn:
        assert _checksums(conn) == before

    other = generate(source_dsn, second_day, orders=orders, seed=42)
    with psycopg.connect(source_dsn) as conn:
        per_day = conn.execute(
            "select created_at::date, count(*) from qsuite.orders group by 1 order by 1"
        ).fetchall()
        assert per_day == [(first_day, orders), (second_day, other.orders)]
        after = _checksums(conn)
        for table in REFERENCE_TABLES:
            assert after[table] == before[table]
        assert after["executions"][0] == stats.executions + other.executions

    # Regenerating the first day with more orders replaces it and leaves the second day alone.
    generate(source_dsn, first_day, orders=orders + 500, seed=42)
    with psycopg.connect(source_dsn) as conn:
        per_day = conn.execute(
            "select created_at::date, count(*) from qsuite.orders group by 1 order by 1"
        ).fetchall()
        assert per_day == [(first_day, orders + 500), (second_day, other.orders)]


@pytest.mark.integration
def test_create_schema_is_idempotent(source_dsn: str) -> None:
    with psycopg.connect(source_dsn) as conn:
        create_schema(conn)
        create_schema(conn)
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'qsuite'"
        ).fetchall()
    assert {t for (t,) in tables} == set(TABLES)
