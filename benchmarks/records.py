"""Synthetic rows of `rpt_mifir_rts22_transactions` with the full RTS 22 field set, at any count.

The render + validate benchmark at 1,000,000 records needs rows that exercise every branch the
renderer and the XSD have (docs/reporting/mifir/report-columns.md is the contract), without a
database that could hold a million executions: a day of the generator has ~70,000. Rows are
built here from that contract alone, so the benchmark does not depend on how the renderer
is written, only on the column names it promises to read.

Why a pool: building a 60-column row from scratch costs more than rendering it, and the
benchmark should measure the XML, not this factory. `POOL_SIZE` distinct rows are built once
(seeded, so every run renders the same bytes), and each record is a shallow copy of one of
them with its own transaction id, timestamp and venue transaction id. The factory's own cost
is measured apart (`rows only` in docs/benchmarks.md), so it can be subtracted.

The mix (`MIX`) follows the issue: mostly shares, some ETFs, bonds (nominal quantity,
percentage price, net amount, maturity), exchange-traded options and futures with and without
FIRDS reference data, clients that are firms (LEI), natural persons (NIDN, CCPT, CONCAT),
joint accounts and discretionary accounts with a decision maker, execution by a person,
an algorithm or the client, order transmission, DEAL/MTCH/AOTC, short sales, branches,
waivers and OTC post-trade indicators.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

SEED = 20261126
POOL_SIZE = 4096
TRADE_DATE = date(2026, 11, 26)
FIRM_LEI = "529900T8BM49AURSDO55"
COUNTERPARTY_LEIS = ("549300O897ZC5H7CY412", "969500UP76J52A9OXU27", "5493001KJTIIGC8Y1R12")
CLIENT_LEIS = ("213800MBWEIJDM5CU638", "635400DZBUIMQJNPHE40", "724500VKKSH9QOLTFR81")
#: Instrument kind -> share of records (sums to 1).
MIX = {
    "SHARE": 0.62,
    "ETF": 0.10,
    "BOND": 0.10,
    "OPTION_FIRDS": 0.05,
    "OPTION_OTHR": 0.04,
    "FUTURE_FIRDS": 0.05,
    "FUTURE_OTHR": 0.04,
}
#: Client kind -> share of client sides.
CLIENTS = {"LEI": 0.45, "PERSON": 0.30, "JOINT": 0.10, "INTC": 0.05, "DISCRETIONARY": 0.10}

_SHARES = ("FR0000120271", "DE0007164600", "NL0010273215", "FR0000131104", "IT0003128367")
_ETFS = ("IE00B4L5Y983", "LU0290358497", "IE00B5BMR087")
_BONDS = ("FR0013508470", "DE0001102580", "IT0005240830", "XS2332186001")
_UNDERLYINGS = ("FR0000120271", "DE0007164600", "NL0010273215")
_DERIVATIVES = ("DE000C6EV045", "DE000F1XK2T5", "NL0015001GX6", "FR0014009ZP8")
_VENUES = ("XPAR", "XETR", "XAMS", "XMIL", "XEUR", "XOFF")
_FIRST = ("MARIE", "JEAN", "LUCA", "ANNA", "JOSÉ", "ÉLODIE", "HANS", "SOFIA")
_LAST = ("MARTIN", "DUPONT", "ROSSI", "MÜLLER", "GARCIA", "D'ARTAGNAN", "JANSEN")
_COUNTRIES = ("FR", "DE", "IT", "NL", "ES")


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person(rng: random.Random, prefix: str, scheme_key: str) -> dict[str, Any]:
    """A natural person: names, birth date and a national id per the country priority."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
    country = rng.choice(_COUNTRIES)
    scheme = rng.choice(("NIDN", "CCPT", "CONCAT"))
    if scheme == "CONCAT":
        # Country, birth date, first 5 letters of first name and surname, '#'-padded.
        def five(name: str) -> str:
            plain = "".join(c for c in name.upper() if "A" <= c <= "Z")
            return (plain + "#####")[:5]

        ident = f"{country}{birth:%Y%m%d}{five(first)}{five(last)}"
    else:
        ident = f"{country}{rng.randrange(10**9, 10**10)}"
    return {
        f"{prefix}_id": ident,
        f"{prefix}_{scheme_key}": scheme,
        f"{prefix}_first_name": first,
        f"{prefix}_surname": last,
        f"{prefix}_birth_date": birth,
    }


def _client_side(rng: random.Random, side: str) -> dict[str, Any]:
    kind = _pick(rng, CLIENTS)
    row: dict[str, Any] = {f"{side}_branch_country": rng.choice(_COUNTRIES)}
    if kind == "INTC":
        return {f"{side}_id_type": "INTC", f"{side}_id": None, f"{side}_branch_country": None}
    if kind in ("LEI", "DISCRETIONARY") and rng.random() < 0.6:
        row.update({f"{side}_id_type": "LEI", f"{side}_id": rng.choice(CLIENT_LEIS)})
    else:
        row[f"{side}_id_type"] = "PERSON"
        row.update(_person(rng, side, "id_scheme"))
    if kind == "JOINT":
        row[f"{side}_id_type"] = "PERSON"
        row.update(_person(rng, side, "id_scheme"))
        row.update(_person(rng, f"{side}2", "id_scheme"))
    if kind == "DISCRETIONARY":
        if rng.random() < 0.5:
            row[f"{side}_decision_maker_type"] = "LEI"
            row[f"{side}_decision_maker_id"] = FIRM_LEI
        else:
            row[f"{side}_decision_maker_type"] = "PERSON"
            row.update(_person(rng, f"{side}_decision_maker", "scheme"))
    return row


def _market_side(rng: random.Random, side: str, venue: str) -> dict[str, Any]:
    if venue != "XOFF" and rng.random() < 0.5:
        return {f"{side}_id_type": "MIC", f"{side}_id": venue}
    return {f"{side}_id_type": "LEI", f"{side}_id": rng.choice(COUNTERPARTY_LEIS)}


def _instrument(rng: random.Random, kind: str) -> dict[str, Any]:
    """Instrument columns (fields 30-35, 41-56) for one kind of the mix."""
    qty = Decimal(rng.randrange(1, 5000))
    price = Decimal(rng.randrange(100, 500_000)) / 100
    row: dict[str, Any] = {
        "quantity_type": "UNIT",
        "quantity": qty,
        "price_type": "MNTRY",
        "price": price,
        "price_currency": "EUR",
        "instrument_in_firds": True,
    }
    if kind in ("SHARE", "ETF"):
        row["instrument_type"] = kind
        row["instrument_isin"] = rng.choice(_SHARES if kind == "SHARE" else _ETFS)
        return row
    if kind == "BOND":
        nominal = Decimal(rng.randrange(1, 500)) * 1000
        pct = Decimal(rng.randrange(9000, 11000)) / 100
        accrued = Decimal(rng.randrange(0, 2000)) / 100
        row.update(
            instrument_type="BOND",
            instrument_isin=rng.choice(_BONDS),
            quantity_type="NMNL",
            quantity=nominal,
            quantity_currency="EUR",
            price_type="PCTG",
            price=pct,
            price_currency=None,
            net_amount=(nominal * pct / 100 + accrued).quantize(Decimal("0.01")),
            maturity_date=date(2030 + rng.randrange(20), 6, 15),
        )
        return row
    option = kind.startswith("OPTION")
    row.update(
        instrument_type="OPTION" if option else "FUTURE",
        instrument_isin=rng.choice(_DERIVATIVES),
        quantity=Decimal(rng.randrange(1, 200)),
        price=Decimal(rng.randrange(1, 50_000)) / 100,
    )
    if kind.endswith("FIRDS"):
        return row
    expiry = date(2026, 12, 18) + timedelta(weeks=4 * rng.randrange(12))
    row.update(
        instrument_in_firds=False,
        instrument_full_name=(
            f"{'OPTION' if option else 'FUTURE'} ON {rng.choice(_UNDERLYINGS)} {expiry:%b %Y}"
        ).upper(),
        instrument_cfi="OCASPS" if option else "FFSCSX",
        notional_currency="EUR",
        price_multiplier=Decimal(rng.choice((1, 10, 100))),
        underlying_isin=rng.choice(_UNDERLYINGS),
        expiry_date=expiry,
        delivery_type="PHYS" if option else "CASH",
    )
    if option:
        row.update(
            option_type=rng.choice(("CALL", "PUTO")),
            strike_price=Decimal(rng.randrange(1000, 20000)) / 100,
            strike_currency="EUR",
            exercise_style=rng.choice(("EURO", "AMER")),
        )
        if rng.random() < 0.3:
            row["complex_trade_id"] = f"STRAT{rng.randrange(10**6):06d}"
    return row


def _decision_and_execution(rng: random.Random, capacity: str, discretionary: bool) -> dict:
    row: dict[str, Any] = {}
    # The firm decides when it deals on own account or manages the account (fields 57, 58).
    if capacity == "DEAL" or discretionary:
        if rng.random() < 0.5:
            row.update(investment_decision_type="ALGO", investment_decision_id="DECIDER7")
        else:
            row.update(
                investment_decision_type="PERSON",
                investment_decision_id=f"FR{rng.randrange(10**9, 10**10)}",
                investment_decision_scheme="NIDN",
                investment_decision_branch_country="FR",
            )
    roll = rng.random()
    if roll < 0.55:
        row.update(executing_person_type="ALGO", executing_person_id=f"ALGO{rng.randrange(50)}")
    elif roll < 0.9 or capacity == "DEAL":
        row.update(
            executing_person_type="PERSON",
            executing_person_id=f"FR{rng.randrange(10**9, 10**10)}",
            executing_person_scheme="NIDN",
            executing_person_branch_country=rng.choice(_COUNTRIES),
        )
    else:
        row["executing_person_type"] = "CLIENT"
    return row


def template(rng: random.Random) -> dict[str, Any]:
    """One row of the mix; `rows` varies its id, timestamp and venue id per record."""
    kind = _pick(rng, MIX)
    venue = "XEUR" if kind.startswith(("OPTION", "FUTURE")) else rng.choice(_VENUES)
    if kind == "BOND":
        venue = rng.choice(("XOFF", "XPAR", "XMIL"))
    capacity = rng.choices(("DEAL", "MTCH", "AOTC"), weights=(0.3, 0.1, 0.6))[0]
    client_buys = rng.random() < 0.5
    client_side, market_side = ("buyer", "seller") if client_buys else ("seller", "buyer")
    row: dict[str, Any] = {
        "record_type": "NEWT",
        "trading_date": TRADE_DATE,
        "venue": venue,
        "executing_entity_lei": FIRM_LEI,
        "investment_firm_ind": True,
        "submitting_entity_lei": FIRM_LEI,
        "trading_capacity": capacity,
        "securities_financing_ind": False,
    }
    if capacity == "DEAL":
        # Own account: the firm is the client side.
        row.update({f"{client_side}_id_type": "LEI", f"{client_side}_id": FIRM_LEI})
        discretionary = False
    else:
        row.update(_client_side(rng, client_side))
        discretionary = row.get(f"{client_side}_decision_maker_type") is not None
    row.update(_market_side(rng, market_side, venue))
    row.update(_instrument(rng, kind))
    row.update(_decision_and_execution(rng, capacity, discretionary))
    transmitted = capacity != "DEAL" and rng.random() < 0.05
    row["transmission_ind"] = transmitted
    if transmitted:
        row[f"transmitting_firm_{client_side}_lei"] = rng.choice(COUNTERPARTY_LEIS)
    if rng.random() < 0.1:
        row["country_of_branch"] = rng.choice(_COUNTRIES)
    if not client_buys and kind in ("SHARE", "ETF", "BOND"):
        row["short_selling_ind"] = rng.choice(("SELL", "SELL", "SELL", "SESH", "SSEX", "UNDI"))
    if venue != "XOFF" and kind in ("SHARE", "ETF") and rng.random() < 0.05:
        row["waiver_ind"] = rng.choice(("NLIQ", "SIZE", "PRIC ILQD"))
    if venue == "XOFF" and rng.random() < 0.2:
        row["otc_post_trade_ind"] = rng.choice(("BENC", "SIZE", "LRGS ACTX"))
    return row


def pool(size: int = POOL_SIZE, seed: int = SEED) -> list[dict[str, Any]]:
    """`size` template rows, the same for a given seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    return [template(rng) for _ in range(size)]


def rows(count: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """`count` rows in trading-time order: a shallow copy of a pool row with its own keys."""
    templates = pool(seed=seed)
    start = datetime(TRADE_DATE.year, TRADE_DATE.month, TRADE_DATE.day, 8, tzinfo=UTC)
    # Spread the records over a 9-hour session, to the microsecond.
    step = timedelta(microseconds=max(1, 9 * 3600 * 10**6 // max(count, 1)))
    size = len(templates)
    for i in range(count):
        row = templates[i % size].copy()
        row["tx_id"] = f"QS{i + 1:014d}"
        row["execution_id"] = i + 1
        row["trading_datetime"] = start + step * i
        if row["venue"] != "XOFF":
            row["venue_transaction_id"] = f"{row['venue']}{i + 1:012d}"
        yield row


def kinds(count: int, seed: int = SEED) -> dict[str, int]:
    """How many of `count` rows are of each instrument type (rows cycle through the pool)."""
    templates = pool(seed=seed)
    full, rest = divmod(count, len(templates))
    out: dict[str, int] = {}
    for i, row in enumerate(templates):
        key = row["instrument_type"] + ("" if row["instrument_in_firds"] else " (no FIRDS)")
        out[key] = out.get(key, 0) + full + (1 if i < rest else 0)
    return out
