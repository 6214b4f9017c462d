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
    ACCOUNT_KINDS,
    DAY_TABLES,
    MIN_ORDERS_ALL_CASES,
    OFF_VENUE,
    REFERENCE_TABLES,
    TABLES,
    DayData,
    ReferenceData,
    accrued_interest,
    build_day,
    build_reference_data,
    copy_text,
    correct_executions,
    coupon_dates,
    create_schema,
    generate,
    load,
)
from regreport.identifiers import (
    CONCAT_PATTERN,
    NATIONAL_ID_PATTERN,
    concat_national_id,
    is_valid_cfi,
    is_valid_isin,
    is_valid_lei,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

DAY = date(2026, 3, 13)
ORDERS = 4_000


def _cols(table: str, row: tuple[str | None, ...]) -> dict[str, str | None]:
    """A generated row by column name."""
    return dict(zip(TABLES[table][0], row, strict=True))


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
    # Keys are seed-independent, so an upsert replaces a seed's rows; joint holders are the
    # exception (which accounts are joint depends on the seed), so they are replaced whole.
    del keys_42["account_joint_holders"], keys_7["account_joint_holders"]
    assert keys_42 == keys_7


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
def test_exactly_one_in_scope_instrument_lacks_an_isin(ref: ReferenceData, day: DayData) -> None:
    rows = [_cols("instruments", r) for r in ref.rows["instruments"]]
    missing = [r for r in rows if r["isin"] is None and r["instrument_type"] != "FX_SPOT"]
    assert len(missing) == 1
    assert missing[0]["instrument_id"] == str(ref.no_isin_instrument_id)
    assert missing[0]["instrument_type"] == "SHARE"
    isins = [r["isin"] for r in rows if r["isin"] is not None]
    assert all(is_valid_isin(isin) for isin in isins)
    assert len(set(isins)) == len(isins)
    assert [r["isin"] for r in rows if r["instrument_type"] == "FX_SPOT"] == [None]
    assert 55 <= len(rows) <= 65
    assert day.no_isin_executions >= 1
    assert day.no_isin_executions < len(day.executions) * 0.05  # lightly traded


#: ISO 10962 CFI prefixes per instrument type (equity shares, collective investment vehicles,
#: debt bonds, options, financial futures, spot FX).
_CFI_PREFIX = {"SHARE": "ES", "ETF": "CE", "BOND": "DB", "OPTION": "O", "FUTURE": "FF"}
_CFI_PREFIX["FX_SPOT"] = "IF"


@pytest.mark.unit
def test_instruments_are_consistent(ref: ReferenceData) -> None:
    venues = {r[0]: r for r in ref.rows["venues"]}
    ccy_by_country = {"GB": {"GBP", "USD"}, "US": {"USD"}, "ZZ": {"USD"}}
    share_isins = {r[1] for r in ref.rows["instruments"] if r[6] == "SHARE" and r[1]}
    kinds = Counter()
    for row in ref.rows["instruments"]:
        i = _cols("instruments", row)
        kind, cfi = i["instrument_type"] or "", i["cfi"] or ""
        kinds[kind] += 1
        assert is_valid_cfi(cfi, kind)
        assert cfi.startswith(_CFI_PREFIX[kind])
        assert i["primary_mic"] in venues
        assert i["currency"] in ccy_by_country.get(venues[i["primary_mic"]][3], {"EUR"})
        tick, price = Decimal(i["tick_size"] or "0"), Decimal(i["reference_price"] or "0")
        assert price > 0
        assert price % tick == 0
        bond, derivative = kind == "BOND", kind in ("OPTION", "FUTURE")
        assert (i["price_notation"], i["quantity_notation"]) == (
            ("PERC", "NOML") if bond else ("MONE", "UNIT")
        )
        assert (i["maturity_date"] is not None) == bond
        assert (i["expiry_date"] is not None) == derivative
        assert (i["underlying_isin"] is not None) == derivative
        assert (i["price_multiplier"] is not None) == derivative
        assert (i["option_type"] is not None) == (kind == "OPTION")
        if bond:
            assert 85 <= price <= 115  # a percentage of the nominal
            assert i["notional_currency"] == i["currency"]
            assert cfi[3] == ("T" if i["is_sovereign"] == "t" else "U")  # guarantee attribute
        else:
            assert i["is_sovereign"] == "f"
        if derivative:
            assert i["underlying_isin"] in share_isins
            assert Decimal(i["price_multiplier"] or "0") > 1
            assert i["delivery_type"] in ("PHYS", "CASH")
            assert date.fromisoformat(i["expiry_date"] or "") > DAY
            on_us_venue = venues[i["primary_mic"]][3] == "US"
            assert i["in_firds"] == ("f" if on_us_venue else "t")
        if kind == "OPTION":
            # CFI: O, call/put, exercise style, S(tock), delivery, S(tandardised).
            assert cfi[1] == ("C" if i["option_type"] == "CALL" else "P")
            assert cfi[2] == (i["exercise_style"] or "")[0]
            assert cfi[4] == (i["delivery_type"] or "")[0]
            assert Decimal(i["strike_price"] or "0") > 0
            assert i["strike_currency"] == i["currency"]
        if kind == "FUTURE":
            assert i["delivery_type"] == "CASH"
        if kind == "FX_SPOT":
            assert (i["primary_mic"], i["in_firds"]) == (OFF_VENUE, "f")
    assert {k for k, n in kinds.items() if n} == set(_CFI_PREFIX)
    assert kinds["SHARE"] > sum(n for k, n in kinds.items() if k != "SHARE") / 2
    sovereign = [
        r for r in ref.rows["instruments"] if _cols("instruments", r)["is_sovereign"] == "t"
    ]
    assert 1 <= len(sovereign) < kinds["BOND"]  # government and corporate bonds


@pytest.mark.unit
def test_accrued_interest_hand_example() -> None:
    # 2.75 % annual coupon paid every 25 October; traded on 2026-03-13.
    maturity, on = date(2032, 10, 25), date(2026, 3, 13)
    assert coupon_dates(maturity, on) == (date(2025, 10, 25), date(2026, 10, 25))
    # Days since 2025-10-25: 6 (rest of Oct) + 30 + 31 + 31 + 28 + 13 = 139; period 365 days.
    # 100,000 x 2.75 % = 2,750 a year; 2,750 x 139 / 365 = 1,047.2602... -> 1,047.26.
    assert accrued_interest(100_000, "2.75", maturity, on) == Decimal("1047.26")
    # On a coupon date nothing has accrued yet.
    assert accrued_interest(100_000, "2.75", maturity, date(2026, 10, 25)) == Decimal("0.00")
    # Half up: 1,000 x 5 % x 73 / 365 = 10.00 exactly; 1,000 x 3.85 % x 1 / 365 = 0.1054...
    assert accrued_interest(1_000, "5", date(2030, 1, 1), date(2026, 3, 15)) == Decimal("10.00")
    assert accrued_interest(1_000, "3.85", date(2030, 9, 1), date(2025, 9, 2)) == Decimal("0.11")


@pytest.mark.unit
def test_bond_fills_carry_accrued_interest(ref: ReferenceData, day: DayData) -> None:
    instruments = {r[0]: _cols("instruments", r) for r in ref.rows["instruments"]}
    orders = {o[0]: _cols("orders", o) for o in day.orders}
    bonds = 0
    for row in day.executions:
        e = _cols("executions", row)
        i = instruments[orders[e["order_id"]]["instrument_id"]]
        if i["instrument_type"] != "BOND":
            assert e["accrued_interest"] is None
            continue
        bonds += 1
        nominal = Decimal(e["quantity"] or "0")
        assert nominal % 1000 == 0  # whole denominations
        # The coupon is in the full name ("... 2.75% dd/mm/yyyy").
        coupon = re.search(r" (\d+\.\d+)% ", i["full_name"] or "")
        assert coupon
        maturity = date.fromisoformat(i["maturity_date"] or "")
        expected = accrued_interest(nominal, coupon.group(1), maturity, DAY)
        assert Decimal(e["accrued_interest"] or "") == expected
        assert 80 <= Decimal(e["price"] or "0") <= 120  # percent of nominal
    assert bonds > 0


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
        a = _cols("accounts", account)
        if a["poa_lei"] is not None:
            assert is_valid_lei(a["poa_lei"])
    assert all(is_valid_lei(lei) for lei in ref.transmitting_firm_leis + ref.counterparty_leis)


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
    assert all(ref.accounts_by_kind[kind] for kind in ACCOUNT_KINDS)
    assert Counter(a[12] for a in clients)["EXECUTION_ONLY"] > len(clients) / 2


@pytest.mark.unit
def test_mandates_and_joint_holders(ref: ReferenceData) -> None:
    accounts = {a[0]: _cols("accounts", a) for a in ref.rows["accounts"]}
    kinds = ref.accounts_by_kind
    for account_id in kinds["DISCRETIONARY"]:
        assert accounts[account_id]["mandate"] == "DISCRETIONARY"
        assert account_id in ref.firm_decides
    assert set(ref.house_account_ids) <= ref.firm_decides
    for account_id in kinds["POA_LEI"] + kinds["POA_PERSON"]:
        a = accounts[account_id]
        assert a["mandate"] == "POWER_OF_ATTORNEY"
        person = [a[f"poa_{c}"] for c in ("first_name", "surname", "birth_date", "national_id")]
        if account_id in kinds["POA_LEI"]:
            assert is_valid_lei(a["poa_lei"])
            assert person == [None] * 4
        else:
            assert a["poa_lei"] is None
            assert None not in person
            assert a["poa_national_id_type"] in ("NIDN", "CCPT", "CONCAT")
    for account_id in kinds["DMA"]:
        assert accounts[account_id]["account_type"] == "LEGAL"
    holders = [_cols("account_joint_holders", h) for h in ref.rows["account_joint_holders"]]
    assert sorted(h["account_id"] or "" for h in holders) == sorted(kinds["JOINT"])
    for h in holders:
        first = accounts[h["account_id"]]
        assert first["account_type"] == "NATURAL"
        assert first["mandate"] == "EXECUTION_ONLY"
        assert h["holder_seq"] == "2"


def _people(ref: ReferenceData) -> Iterator[tuple[str, str, str, str, str, str]]:
    for a in ref.rows["accounts"]:
        if a[1] == "NATURAL":
            yield tuple(str(v) for v in a[5:11])  # type: ignore[misc]
        poa = _cols("accounts", a)
        if poa["poa_national_id"] is not None:  # no nationality column: the id's prefix
            nationality = (poa["poa_national_id"] or "")[:2]
            names = ("first_name", "surname", "birth_date")
            yield (*(str(poa[f"poa_{n}"]) for n in names), nationality,  # type: ignore[misc]
                   str(poa["poa_national_id"]), str(poa["poa_national_id_type"]))  # fmt: skip
    for h in ref.rows["account_joint_holders"]:
        yield tuple(str(v) for v in h[2:8])  # type: ignore[misc]
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
        if order[12] == "t":  # the client executes (DEA): neither a trader nor an algo
            assert order[3] is None
            assert order[4] is None
        else:
            assert (order[3] is None) != (order[4] is None)  # a trader or an algo, not both
        created, updated = _micros(order[15] or ""), _micros(order[16] or "")
        assert open_us <= created <= updated <= close_us
        if order[6] == "LIMIT":
            assert Decimal(order[7] or "0") % ticks[order[2]] == 0
            assert Decimal(order[7] or "0") > 0
        else:
            assert order[7] is None
            assert order[10] in ("FILLED", "CANCELLED")
        assert Decimal(order[8] or "0") == int(Decimal(order[8] or "0")) > 0
    created_times = [_micros(o[15] or "") for o in day.orders]
    assert created_times == sorted(created_times)  # ids follow arrival


@pytest.mark.unit
def test_intraday_volume_is_u_shaped(day: DayData) -> None:
    hours = Counter(_micros(o[15] or "") // 3_600_000_000 for o in day.orders)
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
        assert _micros(order[15] or "") < executed <= _micros(order[16] or "")
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
    venue_ids = [e[7] for e in day.executions if e[6] != OFF_VENUE]
    assert len(set(venue_ids)) == len(venue_ids)
    assert all(re.fullmatch(r"[A-Z0-9]{1,52}", v or "") for v in venue_ids)
    assert all(e[7] is None for e in day.executions if e[6] == OFF_VENUE)
    primary = {r[0]: r[5] for r in ref.rows["instruments"]}
    shares = [e for e in day.executions if instruments[orders[e[1]][2]][6] == "SHARE"]
    on_primary = sum(1 for e in shares if e[6] == primary[orders[e[1]][2]])
    assert 0.6 <= on_primary / len(shares) <= 0.8


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


# ------------------------------------------------------------------------------ the cases


def _cases(ref: ReferenceData, day: DayData) -> dict[str, bool]:
    """Every situation the report must handle, and whether the day contains it."""
    instruments = {r[0]: _cols("instruments", r) for r in ref.rows["instruments"]}
    orders = {o[0]: _cols("orders", o) for o in day.orders}
    fills = [_cols("executions", e) for e in day.executions]
    kind_of = {a: kind for kind, ids in ref.accounts_by_kind.items() for a in ids}
    traded = {
        (
            i["instrument_type"],
            i["in_firds"],
            i["is_sovereign"],
            i["isin"] is None,
        )
        for i in (instruments[orders[f["order_id"]]["instrument_id"]] for f in fills)
    }
    accounts = {kind_of.get(orders[f["order_id"]]["account_id"] or "", "HOUSE") for f in fills}
    filled = [orders[o] for o in {f["order_id"] for f in fills}]
    shorts = {o["short_selling_ind"] for o in filled}
    sovereign_short = any(
        o["short_selling_ind"] and instruments[o["instrument_id"]]["is_sovereign"] == "t"
        for o in filled
    )
    firm_decided = [o for o in filled if o["account_id"] in ref.firm_decides]
    complex_ids = Counter(f["complex_trade_id"] for f in fills if f["complex_trade_id"])
    off_venue = [f for f in fills if f["venue_mic"] == OFF_VENUE]
    return {
        "no_isin_share": ("SHARE", "t", "f", True) in traded,
        "share": ("SHARE", "t", "f", False) in traded,
        "etf": ("ETF", "t", "f", False) in traded,
        "government_bond": ("BOND", "t", "t", False) in traded,
        "corporate_bond": ("BOND", "t", "f", False) in traded,
        "option_in_firds": ("OPTION", "t", "f", False) in traded,
        "option_not_in_firds": ("OPTION", "f", "f", False) in traded,
        "future_in_firds": ("FUTURE", "t", "f", False) in traded,
        "future_not_in_firds": ("FUTURE", "f", "f", False) in traded,
        "fx_spot": ("FX_SPOT", "f", "f", True) in traded,
        **{f"account_{kind.lower()}": kind in accounts for kind in ("HOUSE", *ACCOUNT_KINDS)},
        "trader_decides": any(o["decision_trader_id"] for o in firm_decided),
        "algo_decides": any(o["algo_id"] and not o["decision_trader_id"] for o in firm_decided),
        "client_executes": any(o["client_executes"] == "t" for o in filled),
        "transmitted": any(o["transmitted_by_lei"] for o in filled),
        **{f"short_{code.lower()}": code in shorts for code in ("SELL", "SESH", "SSEX", "UNDI")},
        "sovereign_short": sovereign_short,
        **{f"capacity_{c.lower()}": any(f["trading_capacity"] == c for f in fills)
           for c in ("DEAL", "MTCH", "AOTC")},
        "off_venue": any(f["exec_kind"] == "TRADE" and f["counterparty_lei"] for f in off_venue),
        "otc_post_trade": any(f["otc_post_trade_ind"] for f in off_venue),
        "waiver": any(f["waiver_ind"] for f in fills),
        "branch": any(f["member_branch_country"] for f in fills),
        "complex_trade": 2 in complex_ids.values(),
        "internal_transfer": any(f["exec_kind"] == "INTERNAL_TRANSFER" for f in fills),
        "busted_fill": any(f["status"] == "CANCELLED" for f in fills),
        "accrued_interest": any(f["accrued_interest"] for f in fills),
    }  # fmt: skip


@pytest.mark.unit
def test_every_case_from_the_smallest_day_on(ref: ReferenceData, day: DayData) -> None:
    smallest = build_day(ref, DAY, MIN_ORDERS_ALL_CASES, 42)
    assert [name for name, present in _cases(ref, smallest).items() if not present] == []
    assert [name for name, present in _cases(ref, day).items() if not present] == []
    # One order less and the strategy (two orders) no longer fits.
    smaller = _cases(ref, build_day(ref, DAY, MIN_ORDERS_ALL_CASES - 1, 42))
    assert not smaller["complex_trade"]
    assert smaller["no_isin_share"]
    other_seed = build_reference_data(7)
    small = build_day(other_seed, DAY + timedelta(days=3), MIN_ORDERS_ALL_CASES, 7)
    assert all(_cases(other_seed, small).values())


@pytest.mark.unit
def test_every_case_at_the_default_size(ref: ReferenceData) -> None:
    big = build_day(ref, DAY, 50_000, 42)
    assert [name for name, present in _cases(ref, big).items() if not present] == []
    instruments = {r[0]: r[6] for r in ref.rows["instruments"]}
    orders = {o[0]: instruments[o[2]] for o in big.orders}
    by_type = Counter(orders[e[1]] for e in big.executions)
    assert by_type["SHARE"] > len(big.executions) / 2  # shares dominate
    assert 1 <= by_type["FX_SPOT"] <= 20  # a few a day
    kinds = Counter(e[9] for e in big.executions)
    assert 1 <= kinds["INTERNAL_TRANSFER"] <= 40
    assert 1 <= Counter(e[16] for e in big.executions)["CANCELLED"] <= 60


@pytest.mark.unit
def test_order_attributes(ref: ReferenceData, day: DayData) -> None:
    instruments = {r[0]: _cols("instruments", r) for r in ref.rows["instruments"]}
    for row in day.orders:
        o = _cols("orders", row)
        i = instruments[o["instrument_id"]]
        firm_decides = o["account_id"] in ref.firm_decides
        if not firm_decides:
            assert o["decision_trader_id"] is None
        elif o["trader_id"] is not None:  # a person executes: a person decided
            assert o["decision_trader_id"] is not None
        assert (o["client_executes"] == "t") == (o["account_id"] in ref.dma_accounts)
        if o["transmitted_by_lei"] is not None:
            assert o["transmitted_by_lei"] in ref.transmitting_firm_leis
            assert o["account_id"] not in ref.house_account_ids
        short_sellable = i["instrument_type"] == "SHARE" or i["is_sovereign"] == "t"
        assert (o["short_selling_ind"] is not None) == (o["side"] == "SELL" and short_sellable)
    shorts = Counter(o[14] for o in day.orders if o[14])
    assert shorts.most_common(1)[0][0] == "SELL"


@pytest.mark.unit
def test_execution_attributes(ref: ReferenceData, day: DayData) -> None:
    orders = {o[0]: _cols("orders", o) for o in day.orders}
    instruments = {r[0]: _cols("instruments", r) for r in ref.rows["instruments"]}
    venue_country = {v[0]: v[3] for v in ref.rows["venues"]}
    waivers = {"RFPT", "NLIQ", "OILQ", "PRIC", "SIZE", "ILQD"}
    otc_codes = {"BENC", "ACTX", "LRGS", "ILQD", "SIZE", "CANC", "AMND", "SDIV", "RPRI", "DUPL"}
    for row in day.executions:
        e = _cols("executions", row)
        kind = instruments[orders[e["order_id"]]["instrument_id"]]["instrument_type"]
        off_venue = e["venue_mic"] == OFF_VENUE
        if kind in ("OPTION", "FUTURE"):
            assert not off_venue  # exchange-traded only
        if kind == "FX_SPOT" or e["exec_kind"] == "INTERNAL_TRANSFER":
            assert off_venue
        if off_venue and e["exec_kind"] == "TRADE":
            assert is_valid_lei(e["counterparty_lei"])
        else:
            assert e["counterparty_lei"] is None
        if e["waiver_ind"] is not None:
            assert not off_venue
            assert set((e["waiver_ind"] or "").split()) <= waivers
        if e["otc_post_trade_ind"] is not None:
            assert off_venue
            assert set((e["otc_post_trade_ind"] or "").split()) <= otc_codes
        if e["member_branch_country"] is not None:
            assert e["member_branch_country"] == venue_country[e["venue_mic"]]
            assert e["member_branch_country"] != "FR"  # the head office's country
        executed, updated = _micros(e["executed_at"] or ""), _micros(e["updated_at"] or "")
        if e["status"] == "CANCELLED":  # busted later the same day
            assert e["version"] == "2"
            assert executed < updated
        else:
            assert (e["status"], e["version"], updated) == ("LIVE", "1", executed)


@pytest.mark.unit
def test_complex_trades_have_two_option_legs(ref: ReferenceData, day: DayData) -> None:
    orders = {o[0]: _cols("orders", o) for o in day.orders}
    kinds = {r[0]: r[6] for r in ref.rows["instruments"]}
    complex_legs: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for row in day.executions:
        e = _cols("executions", row)
        if e["complex_trade_id"] is not None:
            assert re.fullmatch(r"[A-Z0-9]{1,35}", e["complex_trade_id"] or "")
            assert kinds[orders[e["order_id"]]["instrument_id"]] == "OPTION"
            complex_legs[e["complex_trade_id"] or ""].append(e)
    assert complex_legs
    for legs in complex_legs.values():
        assert len(legs) == 2
        assert legs[0]["executed_at"] == legs[1]["executed_at"]
        assert legs[0]["quantity"] == legs[1]["quantity"]
        first, second = (orders[leg["order_id"]] for leg in legs)
        assert first["account_id"] == second["account_id"]
        assert first["instrument_id"] != second["instrument_id"]


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
    name = "h1_generator_test"
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
            " join qsuite.instruments i using (instrument_id)"
            " where i.isin is null and i.instrument_type <> 'FX_SPOT'"  # spot FX has none
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


@pytest.mark.integration
def test_an_old_layout_is_recreated(source_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(source_dsn) as conn:  # the layout before issue 3, in short
        conn.execute(
            "create schema qsuite; create table qsuite.executions (execution_id bigint primary key,"
            " order_id bigint not null, executed_at timestamptz not null)"
        )
    with caplog.at_level("WARNING", logger="regreport.generator"):
        stats = generate(source_dsn, DAY, orders=MIN_ORDERS_ALL_CASES, seed=42)
    assert any("dropping and recreating schema qsuite" in r.message for r in caplog.records)
    with psycopg.connect(source_dsn) as conn:
        count = conn.execute("select count(*) from qsuite.executions").fetchone()
        holders = conn.execute("select count(*) from qsuite.account_joint_holders").fetchone()
    assert count == (stats.executions,)
    assert holders == (len(build_reference_data(42).rows["account_joint_holders"]),)


@pytest.mark.integration
def test_corrections_amend_and_cancel_fills_of_an_earlier_day(source_dsn: str) -> None:
    trade_date, on_date = date(2026, 3, 12), date(2026, 3, 13)  # a Thursday, then a Friday
    generate(source_dsn, trade_date, orders=300, seed=42)
    query = (
        "select execution_id, price, quantity, accrued_interest, status, version, updated_at"
        " from qsuite.executions order by execution_id"
    )
    with psycopg.connect(source_dsn) as conn:
        before = {r[0]: r for r in conn.execute(query).fetchall()}
        with pytest.raises(ValueError, match="business day after"):
            correct_executions(conn, trade_date, date(2026, 3, 14), amend=1)  # a Saturday
        with pytest.raises(ValueError, match="corrections asked"):
            correct_executions(conn, trade_date, on_date, amend=len(before) + 1)
        changed = correct_executions(conn, trade_date, on_date, amend=3, cancel=2, seed=42)
        after = {r[0]: r for r in conn.execute(query).fetchall()}
    assert len(changed) == len(set(changed)) == 3 + 2
    for execution_id, row in after.items():
        old = before[execution_id]
        if execution_id not in changed:
            assert row == old
            continue
        assert old[4] == "LIVE"
        assert row[5] == old[5] + 1
        assert row[6].date() == on_date
        assert 8 <= row[6].hour < 17  # during the session
    cancelled = [e for e in changed if after[e][4] == "CANCELLED"]
    amended = [e for e in changed if after[e][4] == "LIVE"]
    assert (len(cancelled), len(amended)) == (2, 3)
    for e in amended:  # a new price or a smaller quantity
        assert after[e][1] != before[e][1] or after[e][2] < before[e][2]

    # Deterministic: the same call on the same source picks and writes the same.
    generate(source_dsn, trade_date, orders=300, seed=42)
    with psycopg.connect(source_dsn) as conn:
        again = correct_executions(conn, trade_date, on_date, amend=3, cancel=2, seed=42)
        assert again == changed
        assert {r[0]: r for r in conn.execute(query).fetchall()} == after
