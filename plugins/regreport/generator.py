"""Deterministic synthetic QSuite trading data: reference data plus one trading day.

The platform needs a source database that looks like a real broker's (valid LEIs and ISINs,
natural persons with RTS 22 national identifiers, fills consistent with their orders, prices
that sit on the tick and inside the limit) for demos, tests and benchmarks, and it must be
reproducible byte for byte so that a failing report can be regenerated and diffed.

Design:

- **Pure generation, then load.** `build_reference_data`, `DayStream` and `build_day` are pure
  functions of (seed) and (seed, trade date, order count). They produce rows already rendered
  as PostgreSQL COPY text values, so the bytes hashed in unit tests are exactly the bytes
  loaded. `generate` streams a `DayStream` into COPY, so Python generates while the server
  inserts; most of the load time is PostgreSQL's per-row foreign key checks.
- **Determinism without salted hashes.** Every random stream is a private `random.Random`
  seeded with a string (``"qsuite:<seed>:<date>:..."``); CPython seeds from a SHA-512 of
  string seeds, so results do not depend on ``PYTHONHASHSEED`` or on the global RNG.
- **Idempotent per date.** Reference rows are upserted (their keys do not depend on the seed);
  the day's orders, executions and quotes are deleted by their timestamps and re-copied, in
  one transaction. Order and execution ids are ``yyyymmdd * 10**9 + n`` so days coexist.
  Execution ids follow execution time; order ids follow creation time.
- **Known data-quality case.** Exactly one instrument (a "new listing") has no ISIN in the
  firm's reference data, and at least one order on it is filled every day, so the pipeline's
  quarantine path is always exercised.

Prices are integers in units of 0.0001 (`PRICE_SCALE`) internally, so ticks are exact.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from itertools import islice
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from regreport.identifiers import (
    concat_national_id,
    isin_with_check_digit,
    italian_fiscal_code,
    lei_with_check_digits,
    spanish_dni,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

#: A row as COPY text values; None is SQL NULL.
Row = tuple[str | None, ...]

SCHEMA = "qsuite"
#: Internal price unit: 1 = 0.0001 of the currency, fine enough for every tick used here.
PRICE_SCALE = 10_000
_US_PER_S = 1_000_000
SESSION_OPEN_US = 8 * 3600 * _US_PER_S
SESSION_CLOSE_US = (16 * 3600 + 30 * 60) * _US_PER_S
#: Orders arrive until a minute before the close, so every fill and cancel fits in the session.
LAST_ORDER_US = SESSION_CLOSE_US - 60 * _US_PER_S
#: Order and execution ids: yyyymmdd * ID_FACTOR + sequence number within the day.
ID_FACTOR = 1_000_000_000
MAX_ORDERS = 10_000_000
QUOTES_PER_ORDER = 4
MIN_QUOTES_PER_INSTRUMENT = 50
FIRM_ID = 1
FIRM_NAME = "QSuite Securities Europe SA"
FIRM_COUNTRY = "FR"
HOUSE_ACCOUNTS = ("HOUSE01", "HOUSE02")
CLIENT_ACCOUNTS = 298
TRADERS = 15
_COPY_CHUNK_ROWS = 5_000

#: Columns and primary keys of the tables this module writes, in load (foreign key) order.
_TABLE_COLUMNS = {
    "firm": "firm_id lei name country_code is_investment_firm",
    "venues": "mic operating_mic name country_code ccp_lei",
    "accounts": "account_id account_type is_house lei legal_name first_name surname birth_date "
    "nationality national_id national_id_type branch_country opened_at",
    "traders": "trader_id first_name surname birth_date nationality national_id "
    "national_id_type branch_country",
    "algos": "algo_id name",
    "instruments": "instrument_id isin cfi full_name currency primary_mic instrument_type "
    "tick_size reference_price",
    "compliance_rules": "rule_id account_id rule_type threshold currency valid_from",
    "orders": "order_id account_id instrument_id trader_id algo_id side order_type limit_price "
    "quantity time_in_force status created_at updated_at",
    "executions": "execution_id order_id executed_at quantity price currency venue_mic "
    "venue_transaction_id trading_capacity",
    "quotes": "instrument_id quoted_at bid_price bid_size ask_price ask_size currency",
}
_TABLE_KEYS = {"compliance_rules": "rule_id valid_from", "quotes": "instrument_id quoted_at"}
#: Columns and primary keys of the tables this module writes, in load (foreign key) order.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    table: (tuple(columns.split()), tuple(_TABLE_KEYS.get(table, columns.split()[0]).split()))
    for table, columns in _TABLE_COLUMNS.items()
}
REFERENCE_TABLES = ("firm", "venues", "accounts", "traders", "algos", "instruments")
REFERENCE_TABLES += ("compliance_rules",)
DAY_TABLES = ("quotes", "orders", "executions")


# --------------------------------------------------------------------------------------------
# Static facts (typed in by hand; MICs checked ACTIVE against ISO 10383)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueSpec:
    """A trading venue: MIC facts from ISO 10383 and whether trades clear through a CCP."""

    mic: str
    operating_mic: str
    name: str
    country: str
    has_ccp: bool


VENUES: tuple[VenueSpec, ...] = (
    VenueSpec("XPAR", "XPAR", "EURONEXT - EURONEXT PARIS", "FR", True),
    VenueSpec("XAMS", "XAMS", "EURONEXT - EURONEXT AMSTERDAM", "NL", True),
    VenueSpec("XBRU", "XBRU", "EURONEXT - EURONEXT BRUSSELS", "BE", False),
    VenueSpec("XETR", "XETR", "XETRA", "DE", True),
    VenueSpec("MTAA", "XMIL", "EURONEXT MILAN", "IT", True),
    VenueSpec("XMAD", "BMEX", "BOLSA DE MADRID", "ES", True),
    VenueSpec("XLON", "XLON", "LONDON STOCK EXCHANGE", "GB", True),
    VenueSpec("AQEU", "AQEU", "AQUIS EXCHANGE EUROPE", "FR", False),
    VenueSpec("CEUX", "CCXE", "CBOE EUROPE - DXE ORDER BOOKS (NL)", "NL", True),
    VenueSpec("TRQX", "TRQX", "TURQUOISE", "GB", True),
    VenueSpec("BATE", "BCXE", "CBOE EUROPE - BXE ORDER BOOKS", "GB", False),
)
#: Where a stock also trades besides its primary market (EU MTFs for EU lines, UK ones for UK).
_ALT_VENUES = {"EU": ("AQEU", "CEUX"), "GB": ("TRQX", "BATE")}


@dataclass(frozen=True)
class InstrumentSpec:
    """A fictional listed instrument: name, listing, price level and relative liquidity."""

    name: str
    country: str  # ISIN country prefix
    primary_mic: str
    currency: str
    kind: str  # SHARE or ETF
    base_price: float
    weight: float


def _shares(
    country: str, mic: str, ccy: str, rows: Sequence[tuple[str, float, float]]
) -> tuple[InstrumentSpec, ...]:
    return tuple(InstrumentSpec(n, country, mic, ccy, "SHARE", p, w) for n, p, w in rows)


INSTRUMENTS: tuple[InstrumentSpec, ...] = (
    *_shares(
        "FR",
        "XPAR",
        "EUR",
        [
            ("Aubrac Énergies SA", 48.0, 9),
            ("Valmont Luxe SA", 640.0, 8),
            ("Calanque Télécom SA", 17.5, 6),
            ("Banque Morvan SA", 61.0, 7),
            ("Vercors Aéronautique SE", 152.0, 5),
            ("Garonne Eaux SA", 29.8, 3),
            ("Loire Santé SA", 88.4, 4),
            ("Ardèche Digital SA", 7.9, 1),
        ],
    ),
    *_shares(
        "DE",
        "XETR",
        "EUR",
        [
            ("Rheinfeld Chemie AG", 44.0, 7),
            ("Elbwerk Software SE", 178.0, 8),
            ("Nordhafen Logistik AG", 36.5, 4),
            ("Bayerwald Motoren AG", 92.0, 6),
            ("Spreetal Versicherung SE", 245.0, 5),
            ("Harzstrom AG", 12.3, 3),
            ("Moselbrück Bank AG", 9.6, 2),
        ],
    ),
    *_shares(
        "NL",
        "XAMS",
        "EUR",
        [
            ("Zuiderlicht Halfgeleiders N.V.", 710.0, 8),
            ("Hollandse Havenbeheer N.V.", 24.6, 3),
            ("Delftblauw Voeding N.V.", 33.2, 4),
            ("Waddenzee Energie N.V.", 15.1, 3),
            ("Veluwe Betalingen N.V.", 4.85, 2),
        ],
    ),
    *_shares(
        "IT",
        "MTAA",
        "EUR",
        [
            ("Dolomiti Energia Rinnovabile S.p.A.", 6.2, 5),
            ("Banca Tirrenica S.p.A.", 11.9, 6),
            ("Lagunare Moda S.p.A.", 54.0, 3),
            ("Appennino Infrastrutture S.p.A.", 21.7, 2),
        ],
    ),
    *_shares(
        "ES",
        "XMAD",
        "EUR",
        [
            ("Cantábrico Eléctrica S.A.", 12.6, 6),
            ("Banco Meseta S.A.", 7.4, 5),
            ("Ibérica de Telecomunicaciones S.A.", 3.95, 4),
            ("Galicia Textil S.A.", 42.5, 3),
        ],
    ),
    *_shares(
        "BE",
        "XBRU",
        "EUR",
        [("Brabant Brasseries SA/NV", 57.0, 3), ("Escaut Pharma SA/NV", 118.0, 2)],
    ),
    *_shares(
        "GB",
        "XLON",
        "GBP",
        [
            ("Thameside Petroleum plc", 4.85, 7),
            ("Pennine Pharmaceuticals plc", 12.4, 5),
            ("Severn Banking Group plc", 1.38, 4),
            ("Cotswold Consumer Brands plc", 38.6, 4),
            ("Highland Mining plc", 22.1, 3),
        ],
    ),
    *(
        InstrumentSpec(name, "IE", mic, ccy, "ETF", price, weight)
        for name, mic, ccy, price, weight in (
            ("Northwind Core MSCI Europe UCITS ETF EUR (Acc)", "XETR", "EUR", 82.0, 5),
            ("Northwind Core Euro Govt Bond UCITS ETF EUR (Dist)", "XETR", "EUR", 118.0, 2),
            ("Meridian Euro Stoxx 50 UCITS ETF EUR (Dist)", "XPAR", "EUR", 51.3, 4),
            ("Meridian S&P 500 UCITS ETF USD (Acc)", "XLON", "USD", 548.0, 5),
            ("Meridian Nasdaq 100 UCITS ETF USD (Acc)", "XLON", "USD", 1020.0, 3),
            ("Northwind FTSE 100 UCITS ETF GBP (Dist)", "XLON", "GBP", 8.45, 3),
        )
    ),
)
FIRST_INSTRUMENT_ID = 1001
#: National prefix of the NSIN per ISIN country (the rest are random digits).
_NSIN_PREFIX = {"FR": "0000", "DE": "000", "NL": "00", "IT": "000", "ES": "01", "BE": "0"}
_NSIN_PREFIX |= {"GB": "00B", "IE": "00B"}
_CFI = {"SHARE": "ESVUFR", "ETF": "CEOGEU"}
#: Prefixes of real LEI issuers (LOUs); the entity part of every synthetic LEI is random.
_LOU_PREFIXES = ("5299", "5493", "9695", "2138", "8156", "7245", "9598", "2549")

_FIRST_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # nationality: (male, female)
    "FR": (
        ("Jean-Pierre", "François", "Étienne", "Louis", "Théo", "Hugo", "Mathieu"),
        ("Zoé", "Hélène", "Camille", "Léa", "Chloé", "Margaux", "Anaïs"),
    ),
    "DE": (
        ("Jürgen", "Lukas", "Maximilian", "Felix", "Jonas", "Sören"),
        ("Anna", "Sophie", "Jülide", "Käthe", "Marie", "Greta"),
    ),
    "NL": (("Daan", "Sem", "Luuk", "Bram", "Joris"), ("Emma", "Sanne", "Lotte", "Zoë", "Fenna")),
    "IT": (
        ("Marco", "Giuseppe", "Luca", "Niccolò", "Andrea"),
        ("Giulia", "Chiara", "Francesca", "Ilaria", "Bea"),
    ),
    "ES": (
        ("José", "Álvaro", "Sergio", "Iñigo", "Pablo"),
        ("María", "Lucía", "Begoña", "Ana", "Nuria"),
    ),
    "GB": (("Oliver", "Harry", "George", "Rhys"), ("Amelia", "Isla", "Siân", "Eve")),
}
_SURNAMES: dict[str, tuple[str, ...]] = {
    "FR": (
        "Dupont",
        "Lefèvre",
        "de la Fontaine",
        "Moreau",
        "Girard",
        "d'Arcy",
        "Rousseau",
        "Bézier",
        "Mercier",
        "Le Goff",
    ),
    "DE": ("Müller", "Schröder", "von Weizsäcker", "Groß", "Krüger", "Weiß", "Hoffmann", "Köhler"),
    "NL": ("van der Berg", "de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "de Jong"),
    "IT": ("Rossi", "Bianchi", "De Luca", "Esposito", "Ricci", "Romano", "D'Angelo", "Fo"),
    "ES": ("García", "Fernández", "de la Fuente", "Muñoz", "López", "Martínez", "Peña"),
    "GB": ("Smith", "O'Connor", "Jones", "MacDonald", "Taylor", "Evans", "Ng"),
}
_NATIONALITY_WEIGHTS = {"FR": 30, "DE": 20, "NL": 12, "IT": 15, "ES": 13, "GB": 10}
#: Cadastral codes: Rome, Milan, Turin, Naples, Florence.
_IT_MUNICIPALITIES = ("H501", "F205", "L219", "F839", "D612")
_LEGAL_STEMS = (
    "Alder",
    "Brightwater",
    "Cassiopée",
    "Dünenfeld",
    "Eldervaart",
    "Fiordaliso",
    "Gallega",
    "Harrow",
    "Isar",
    "Juniper",
    "Kestrel",
    "Lumière",
    "Meridiana",
    "Nordlicht",
    "Ostrava",
    "Pinnacle",
    "Quercus",
    "Rivabella",
    "Solano",
    "Tamarind",
    "Ulmenhof",
    "Vesper",
    "Wyvern",
)
_LEGAL_KINDS = (
    "Asset Management",
    "Capital Partners",
    "Pension Fund",
    "Investment Fund",
    "Family Office",
    "Insurance",
    "Wealth Management",
    "Endowment",
    "Global Macro Fund",
    "Treasury",
)
_LEGAL_SUFFIX = {"FR": "SAS", "DE": "GmbH", "NL": "B.V.", "IT": "S.r.l.", "ES": "S.L.", "GB": "Ltd"}
ALGOS: tuple[tuple[str, str], ...] = (
    ("QSVWAP01", "QSuite VWAP v3.2"),
    ("QSTWAP01", "QSuite TWAP v2.7"),
    ("QSPOV01", "QSuite Percent-of-Volume v1.9"),
    ("QSSOR01", "QSuite Smart Order Router v4.1"),
    ("QSICEB01", "QSuite Iceberg v1.4"),
)


# --------------------------------------------------------------------------------------------
# Text rendering of values for COPY
# --------------------------------------------------------------------------------------------


def price_text(units: int) -> str:
    """Render an integer price in 0.0001 units as an exact decimal string."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), PRICE_SCALE)
    return f"{sign}{whole}.{frac:04d}"


def _timestamp_renderer(trade_date: date) -> Callable[[int], str]:
    """Return a fast formatter of microseconds-after-midnight UTC for one day.

    Hundreds of thousands of timestamps are rendered per day, so the date and time-of-day
    prefixes are precomputed per second instead of going through `datetime.isoformat`.
    """
    day = trade_date.isoformat()
    second_prefix = [
        f"{day} {h:02d}:{m:02d}:{s:02d}." for h in range(24) for m in range(60) for s in range(60)
    ]

    def render(micros: int) -> str:
        seconds, fraction = divmod(micros, _US_PER_S)
        return f"{second_prefix[seconds]}{fraction:06d}+00"

    return render


def copy_text(rows: Iterable[Row]) -> Iterator[str]:
    """COPY text-format lines for rows (values never contain tabs, newlines or backslashes)."""
    for row in rows:
        yield "\t".join("\\N" if value is None else value for value in row) + "\n"


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instrument:
    """What the day generator needs to know about an instrument (prices in 0.0001 units)."""

    instrument_id: int
    isin: str | None
    currency: str
    primary_mic: str
    alt_venues: tuple[str, ...]
    tick: int
    reference_price: int
    weight: float
    daily_vol: float


@dataclass(frozen=True)
class ReferenceData:
    """Reference rows per table plus the typed view the day generator samples from."""

    seed: int
    firm_lei: str
    rows: dict[str, list[Row]]
    instruments: tuple[Instrument, ...]
    client_account_ids: tuple[str, ...]
    client_cum_weights: tuple[float, ...]
    house_account_ids: tuple[str, ...]
    trader_ids: tuple[str, ...]
    algo_ids: tuple[str, ...]
    no_isin_instrument_id: int


def _synthetic_lei(rng: random.Random) -> str:
    entity = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=12))
    return lei_with_check_digits(rng.choice(_LOU_PREFIXES) + "00" + entity)


def tick_for_price(price: float) -> int:
    """Tick size (0.0001 units) for a price level, a simplified MiFID II tick table."""
    for limit, tick in ((1, 1), (5, 5), (10, 10), (20, 20), (50, 50), (100, 100), (200, 200)):
        if price < limit:
            return tick
    return 500 if price < 500 else 1000 if price < 1000 else 2000


def _instruments(rng: random.Random) -> tuple[list[Row], tuple[Instrument, ...], int]:
    light = [i for i, s in enumerate(INSTRUMENTS) if s.kind == "SHARE" and s.weight <= 2]
    no_isin_index = rng.choice(light)
    isins: set[str] = set()
    rows: list[Row] = []
    typed: list[Instrument] = []
    for index, spec in enumerate(INSTRUMENTS):
        instrument_id = FIRST_INSTRUMENT_ID + index
        prefix = _NSIN_PREFIX[spec.country]
        isin = ""
        while not isin or isin in isins:
            digits = "".join(rng.choices("0123456789", k=9 - len(prefix)))
            isin = isin_with_check_digit(spec.country + prefix + digits)
        isins.add(isin)
        price = spec.base_price * (0.85 + 0.3 * rng.random())
        tick = tick_for_price(price)
        ref_price = max(tick, round(price * PRICE_SCALE / tick) * tick)
        region = "GB" if spec.primary_mic == "XLON" else "EU"
        new_listing = index == no_isin_index
        typed.append(
            Instrument(
                instrument_id=instrument_id,
                isin=None if new_listing else isin,
                currency=spec.currency,
                primary_mic=spec.primary_mic,
                alt_venues=_ALT_VENUES[region],
                tick=tick,
                reference_price=ref_price,
                weight=0.5 if new_listing else spec.weight,
                daily_vol=0.008 if spec.kind == "ETF" else 0.015,
            )
        )
        rows.append(
            (
                str(instrument_id),
                None if new_listing else isin,
                _CFI[spec.kind],
                spec.name,
                spec.currency,
                spec.primary_mic,
                spec.kind,
                price_text(tick),
                price_text(ref_price),
            )
        )
    return rows, tuple(typed), FIRST_INSTRUMENT_ID + no_isin_index


@dataclass(frozen=True)
class Person:
    """A natural person with the RTS 22 national identifier the firm holds for them."""

    first_name: str
    surname: str
    birth_date: date
    nationality: str
    national_id: str
    national_id_type: str


def make_person(rng: random.Random, nationality: str | None = None) -> Person:
    """Draw a plausible adult and the identifier RTS 22 Annex II prescribes for them.

    IT gets the fiscal code and ES the DNI (both NIDN), NL a passport number (CCPT, Annex II's
    first choice there); FR, DE and GB get CONCAT, as they have no higher-priority identifier here.
    """
    if nationality is None:
        nationality = rng.choices(
            tuple(_NATIONALITY_WEIGHTS), weights=tuple(_NATIONALITY_WEIGHTS.values())
        )[0]
    female = rng.random() < 0.45
    first = rng.choice(_FIRST_NAMES[nationality][1 if female else 0])
    surname = rng.choice(_SURNAMES[nationality])
    born = date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    if nationality == "IT":
        municipality = rng.choice(_IT_MUNICIPALITIES)
        code = italian_fiscal_code(first, surname, born, female=female, municipality=municipality)
        national_id, id_type = "IT" + code, "NIDN"
    elif nationality == "ES":
        national_id, id_type = "ES" + spanish_dni(rng.randrange(1_000_000, 99_999_999)), "NIDN"
    elif nationality == "NL":
        letters = "".join(rng.choices("ABCDEFGHIJKLMNPQRSTUVWXYZ", k=2))
        rest = "".join(rng.choices("ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789", k=6))
        national_id, id_type = f"NL{letters}{rest}{rng.randrange(10)}", "CCPT"
    else:
        national_id, id_type = concat_national_id(nationality, born, first, surname), "CONCAT"
    return Person(first, surname, born, nationality, national_id, id_type)


def _opened_at(rng: random.Random) -> str:
    day = date(2005, 1, 3) + timedelta(days=rng.randrange(365 * 14))
    moment = datetime(day.year, day.month, day.day, 7, tzinfo=UTC)
    moment += timedelta(seconds=rng.randrange(10 * 3600))
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _accounts(rng: random.Random, firm_lei: str) -> tuple[list[Row], list[float]]:
    rows: list[Row] = []
    for number, account_id in enumerate(HOUSE_ACCOUNTS, start=1):
        name = f"{FIRM_NAME} - house book {number}"
        rows.append(
            (account_id, "LEGAL", "t", firm_lei, name, *([None] * 6), FIRM_COUNTRY, _opened_at(rng))
        )
    weights: list[float] = []
    for number in range(1, CLIENT_ACCOUNTS + 1):
        account_id = f"CL{number:05d}"
        branch = rng.choices(("FR", "DE", "NL", "IT", "ES"), weights=(60, 15, 10, 8, 7))[0]
        if rng.random() < 0.7:
            country = rng.choice(tuple(_LEGAL_SUFFIX))
            name = f"{rng.choice(_LEGAL_STEMS)} {rng.choice(_LEGAL_KINDS)} {_LEGAL_SUFFIX[country]}"
            rows.append(
                (
                    account_id,
                    "LEGAL",
                    "f",
                    _synthetic_lei(rng),
                    name,
                    *([None] * 6),
                    branch,
                    _opened_at(rng),
                )
            )
            weights.append(rng.paretovariate(1.2))
        else:
            p = make_person(rng)
            rows.append(
                (
                    account_id,
                    "NATURAL",
                    "f",
                    None,
                    None,
                    p.first_name,
                    p.surname,
                    p.birth_date.isoformat(),
                    p.nationality,
                    p.national_id,
                    p.national_id_type,
                    branch,
                    _opened_at(rng),
                )
            )
            weights.append(rng.paretovariate(2.0) * 0.3)
    return rows, weights


def _compliance_rules(rng: random.Random, accounts: list[Row]) -> list[Row]:
    first, review = "2023-01-02 00:00:00+00", "2024-07-01 00:00:00+00"
    rows: list[Row] = [
        ("FIRM-MAXQTY", None, "MAX_ORDER_QUANTITY", "1000000.000000", None, first),
        ("FIRM-COLLAR", None, "PRICE_COLLAR_PCT", "5.000000", None, first),
        ("FIRM-COLLAR", None, "PRICE_COLLAR_PCT", "3.000000", None, review),
    ]
    for index, account in enumerate(accounts):
        account_id = str(account[0])
        house = account[2] == "t"
        per_order = rng.choice((250_000, 500_000, 1_000_000, 2_000_000, 5_000_000)) * (
            10 if house else 1
        )
        per_day = per_order * rng.choice((5, 10, 20))
        rows.append(
            (
                f"{account_id}-MAXORD",
                account_id,
                "MAX_ORDER_NOTIONAL",
                f"{per_order}.000000",
                "EUR",
                "2023-01-02 00:00:00+00",
            )
        )
        rows.append(
            (
                f"{account_id}-MAXDAY",
                account_id,
                "MAX_DAILY_NOTIONAL",
                f"{per_day}.000000",
                "EUR",
                "2023-01-02 00:00:00+00",
            )
        )
        if index % 10 == 3:  # a limit review (same accounts for every seed: keys are stable)
            rows.append(
                (
                    f"{account_id}-MAXORD",
                    account_id,
                    "MAX_ORDER_NOTIONAL",
                    f"{per_order // 2}.000000",
                    "EUR",
                    "2024-07-01 00:00:00+00",
                )
            )
    return rows


def build_reference_data(seed: int = 42) -> ReferenceData:
    """Generate firm, venues, accounts, traders, algos, instruments and limits from `seed`.

    Reference data deliberately ignores the trade date: every day loaded with one seed refers to
    the same accounts and instruments, and row keys do not depend on the seed, so an upsert
    replaces the previous seed's rows rather than adding to them.
    """
    rng = random.Random(f"qsuite:{seed}:reference")  # noqa: S311 - simulation, not secrets
    firm_lei = lei_with_check_digits(
        "9695" + "00" + "QSUITE" + "".join(rng.choices("0123456789", k=6))
    )
    venues: list[Row] = [
        (v.mic, v.operating_mic, v.name, v.country, _synthetic_lei(rng) if v.has_ccp else None)
        for v in VENUES
    ]
    accounts, client_weights = _accounts(rng, firm_lei)
    traders: list[Row] = []
    for number in range(1, TRADERS + 1):
        branch = rng.choices(("FR", "DE", "NL", "IT"), weights=(8, 3, 2, 2))[0]
        p = make_person(rng, rng.choice(("FR", "FR", "DE", "NL", "IT", "ES", "GB")))
        traders.append(
            (
                f"TRD{number:03d}",
                p.first_name,
                p.surname,
                p.birth_date.isoformat(),
                p.nationality,
                p.national_id,
                p.national_id_type,
                branch,
            )
        )
    instrument_rows, instruments, no_isin_id = _instruments(rng)
    cumulative, total = [], 0.0
    for weight in client_weights:
        total += weight
        cumulative.append(total)
    return ReferenceData(
        seed=seed,
        firm_lei=firm_lei,
        rows={
            "firm": [(str(FIRM_ID), firm_lei, FIRM_NAME, FIRM_COUNTRY, "t")],
            "venues": venues,
            "accounts": accounts,
            "traders": traders,
            "algos": [(algo_id, name) for algo_id, name in ALGOS],
            "instruments": instrument_rows,
            "compliance_rules": _compliance_rules(rng, accounts),
        },
        instruments=instruments,
        client_account_ids=tuple(str(row[0]) for row in accounts if row[2] == "f"),
        client_cum_weights=tuple(cumulative),
        house_account_ids=HOUSE_ACCOUNTS,
        trader_ids=tuple(str(row[0]) for row in traders),
        algo_ids=tuple(algo_id for algo_id, _ in ALGOS),
        no_isin_instrument_id=no_isin_id,
    )


# --------------------------------------------------------------------------------------------
# One trading day
# --------------------------------------------------------------------------------------------


@dataclass
class DayData:
    """The rows of one trading day and the counts worth reporting."""

    trade_date: date
    orders: list[Row] = field(default_factory=list)
    executions: list[Row] = field(default_factory=list)
    quotes: list[Row] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    no_isin_executions: int = 0


@dataclass
class _Book:
    """The NBBO series of one instrument: parallel lists, times in microseconds after midnight."""

    times: list[int]
    bids: list[int]
    asks: list[int]

    def at(self, micros: int) -> tuple[int, int]:
        """Prevailing (bid, ask) at `micros`; the first quote is at the open, before any order."""
        index = bisect_right(self.times, micros) - 1
        return self.bids[index], self.asks[index]

    def reached(self, micros: int, side: str, limit: int, horizon: int = 5_000) -> int:
        """First moment from `micros` at which a resting limit order can trade at its price.

        A resting buy at L trades once the bid is at or below L (the offer has come down to
        it); a sell once the ask is at or above L. Fills are placed at that moment so that a
        passive fill's price lies inside the NBBO. If the market never comes back within
        `horizon` quotes, `micros` is returned unchanged.
        """
        times, index = self.times, bisect_right(self.times, micros) - 1
        levels, buy = (self.bids, True) if side == "BUY" else (self.asks, False)
        for probe in range(index, min(len(times), index + horizon)):
            if (levels[probe] <= limit) if buy else (levels[probe] >= limit):
                return micros if probe == index else times[probe]
        return micros


def _day_rng(seed: int, trade_date: date, stream: str) -> random.Random:
    return random.Random(f"qsuite:{seed}:{trade_date.isoformat()}:{stream}")  # noqa: S311


def _quotes_for(
    instrument: Instrument, count: int, rng: random.Random, render: Callable[[int], str]
) -> tuple[_Book, list[Row]]:
    """A random-walk NBBO for one instrument: on tick, bid < ask, spread of 1-3 ticks."""
    random_ = rng.random
    span = SESSION_CLOSE_US - SESSION_OPEN_US - count
    times = [SESSION_OPEN_US]  # a quote at the open, so every order finds a prevailing NBBO
    for offset in sorted(int(random_() * span) for _ in range(count - 1)):
        times.append(max(SESSION_OPEN_US + 1 + offset, times[-1] + 1))  # strictly increasing
    tick = instrument.tick
    mid = instrument.reference_price / tick  # in ticks, a float walk
    step = mid * instrument.daily_vol / math.sqrt(count)
    tight = min(0.85, 0.45 + 0.05 * instrument.weight)
    lot = 100 if instrument.reference_price < 100 * PRICE_SCALE else 10
    sizes = [str(lots * lot) for lots in range(1, 41)]
    wide = tight + (1 - tight) * 0.7
    book = _Book(times, [], [])
    rows: list[Row] = []
    instrument_id, currency = str(instrument.instrument_id), instrument.currency
    prices: dict[int, str] = {}  # the walk revisits the same ticks: render each once
    gauss = rng.gauss
    for micros in times:
        mid = max(4.0, mid + gauss(0.0, step))
        roll = random_()
        spread = 1 if roll < tight else 2 if roll < wide else 3
        bid = max(1, round(mid - spread / 2)) * tick
        ask = bid + spread * tick
        book.bids.append(bid)
        book.asks.append(ask)
        bid_text = prices.get(bid) or prices.setdefault(bid, price_text(bid))
        ask_text = prices.get(ask) or prices.setdefault(ask, price_text(ask))
        bid_size, ask_size = sizes[int(random_() * 40)], sizes[int(random_() * 40)]
        rows.append(
            (instrument_id, render(micros), bid_text, bid_size, ask_text, ask_size, currency)
        )
    return book, rows


def _order_times(rng: random.Random, count: int) -> list[int]:
    """Arrival times with the intraday U shape: density 1 + 3(2x - 1)^2 by rejection sampling."""
    span = LAST_ORDER_US - SESSION_OPEN_US - 1
    times: list[int] = []
    random_ = rng.random
    while len(times) < count:
        x = random_()
        if random_() * 4.0 <= 1.0 + 3.0 * (2.0 * x - 1.0) ** 2:
            times.append(SESSION_OPEN_US + 1 + int(x * span))
    times.sort()
    return times


#: A fill before ids are assigned: (micros, order_id, sequence, quantity, price, currency,
#: venue MIC, trading capacity, instrument lacks ISIN). A tuple, as ~100k are made per day.
_Fill = tuple[int, int, int, int, int, str, str, str, bool]


_STATUS_CUTS = (
    (0.55, "FILLED"),
    (0.70, "CANCELLED_PARTIAL"),
    (0.90, "CANCELLED"),
    (0.96, "NEW"),
    (1.00, "PARTIALLY_FILLED"),
)
_TAKER_DELAY_US = 400.0
_MAKER_DELAY_US = 20.0 * _US_PER_S
_CANCEL_DELAY_US = 300.0 * _US_PER_S


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """Split `total` shares into up to `parts` positive integer fills (fewer if total is small)."""
    parts = max(1, min(parts, total))
    cuts: set[int] = set()
    random_ = rng.random
    while len(cuts) < parts - 1:  # a few distinct cut points in 1..total-1
        cuts.add(1 + int(random_() * (total - 1)))
    edges = [0, *sorted(cuts), total]
    return [edges[i + 1] - edges[i] for i in range(parts)]


def _pick(random_: Callable[[], float], items: Sequence[str]) -> str:
    """Uniform choice with one RNG call (`random.choice` is several times slower)."""
    return items[int(random_() * len(items))]


class DayStream:
    """One trading day as three row streams, consumed in order: quotes, orders, executions.

    Streams let `load` COPY rows while later ones are still being generated (the database
    works on one core while Python works on another); `build_day` drains them into lists.
    Orders need the quotes (the NBBO they are priced against) and executions need the orders,
    so each stream raises if its predecessor has not been consumed.
    """

    def __init__(self, ref: ReferenceData, trade_date: date, orders: int, seed: int) -> None:
        if not 1 <= orders <= MAX_ORDERS:
            raise ValueError(f"orders must be between 1 and {MAX_ORDERS}, got {orders}")
        self.ref = ref
        self.seed = seed
        self.trade_date = trade_date
        self.order_count = orders
        self.rng = _day_rng(seed, trade_date, "orders")
        self.render = _timestamp_renderer(trade_date)
        self.day_key = int(trade_date.strftime("%Y%m%d"))
        self.books: dict[int, _Book] = {}
        self.fills: list[_Fill] = []
        self.client_total = ref.client_cum_weights[-1]
        total_weight = sum(i.weight for i in ref.instruments)
        self.quote_counts = [
            max(
                MIN_QUOTES_PER_INSTRUMENT,
                round(QUOTES_PER_ORDER * orders * i.weight / total_weight),
            )
            for i in ref.instruments
        ]
        self.status_counts: dict[str, int] = {}
        self.no_isin_executions = 0
        self._orders_done = False

    @property
    def quote_total(self) -> int:
        """Number of rows `quotes` yields."""
        return sum(self.quote_counts)

    @property
    def execution_total(self) -> int:
        """Number of rows `executions` yields (known once the orders are consumed)."""
        return len(self.fills)

    # -- quotes -------------------------------------------------------------------------------
    def quotes(self) -> Iterator[Row]:
        """All instruments' NBBO series; liquid instruments quote more often."""
        for instrument, count in zip(self.ref.instruments, self.quote_counts, strict=True):
            rng = _day_rng(self.seed, self.trade_date, f"quotes:{instrument.instrument_id}")
            book, quote_rows = _quotes_for(instrument, count, rng, self.render)
            self.books[instrument.instrument_id] = book
            yield from quote_rows

    # -- orders -------------------------------------------------------------------------------
    def _status_and_type(self, forced: bool) -> tuple[str, str, str]:
        r = self.rng.random
        status = "FILLED"
        if not forced:
            roll = r()
            status = next(name for cut, name in _STATUS_CUTS if roll < cut)
        if status in ("FILLED", "CANCELLED_PARTIAL") and r() < 0.28:
            return status, "MARKET", "IOC" if r() < 0.6 else "DAY"
        if status in ("NEW", "PARTIALLY_FILLED"):
            return status, "LIMIT", "DAY" if r() < 0.8 else "GTC"
        roll = r()
        return status, "LIMIT", "DAY" if roll < 0.7 else "IOC" if roll < 0.85 else "GTC"

    def _account(self) -> tuple[str, bool]:
        r = self.rng.random
        if r() < 0.1:
            return self.ref.house_account_ids[0 if r() < 0.7 else 1], True
        index = bisect_right(self.ref.client_cum_weights, r() * self.client_total)
        return self.ref.client_account_ids[min(index, len(self.ref.client_account_ids) - 1)], False

    def _quantity(self, price: int, house: bool) -> int:
        notional = self.rng.lognormvariate(math.log(40_000 if house else 20_000), 1.1)
        shares = notional * PRICE_SCALE / price
        step = 100 if shares >= 1000 else 10 if shares >= 100 else 1
        return int(min(500_000, max(10, round(shares / step) * step)))

    def _limit(self, instrument: Instrument, side: str, at: int, mode: str) -> int:
        """A limit on tick, placed by what the order will do.

        ``take``: marketable, up to 2 ticks through the far touch. ``join``: passive at the near
        touch or one tick behind it, so it is filled soon while the market is still there.
        ``rest``: 0-4 ticks behind the near touch, for orders that stay open or get cancelled.
        """
        bid, ask = self.books[instrument.instrument_id].at(at)
        tick, r = instrument.tick, self.rng.random
        if mode == "take":
            ticks = int(r() * 3)
            limit = ask + tick * ticks if side == "BUY" else bid - tick * ticks
        else:
            ticks = int(r() * (2 if mode == "join" else 5))
            limit = bid - tick * ticks if side == "BUY" else ask + tick * ticks
        return max(tick, limit)

    def _fill_times(self, created: int, count: int, taker: bool) -> list[int]:
        expo = self.rng.expovariate
        first, following = (
            (1 / _TAKER_DELAY_US, 1 / 150.0)
            if taker
            else (1 / _MAKER_DELAY_US, 2 / _MAKER_DELAY_US)
        )
        times, moment = [], created
        for index in range(count):
            moment += 1 + int(expo(first if index == 0 else following))
            times.append(moment)
        limit = SESSION_CLOSE_US - 1
        if times[-1] > limit:  # squeeze into the session, keeping the order of events
            scale = (limit - created) / (times[-1] - created)
            times = [max(created + 1, created + int((t - created) * scale)) for t in times]
        return times

    def _fill_price(self, instrument: Instrument, side: str, limit: int | None, micros: int) -> int:
        """Take the far touch (sometimes one tick inside the spread), never through the limit."""
        bid, ask = self.books[instrument.instrument_id].at(micros)
        improve = instrument.tick if ask - bid > instrument.tick and self.rng.random() < 0.1 else 0
        if side == "BUY":
            price = ask - improve
            return price if limit is None else min(price, limit)
        price = bid + improve
        return price if limit is None else max(price, limit)

    def _fills(
        self,
        order_id: int,
        instrument: Instrument,
        side: str,
        limit: int | None,
        plan: tuple[int, int, bool, str],
    ) -> int:
        """Append the order's fills; return the time of the last one."""
        created, filled, taker, capacity = plan
        r = self.rng.random
        roll = r()
        wanted = 1 if roll < 0.45 else 2 if roll < 0.75 else 3 if roll < 0.9 else 4
        parts = _split(self.rng, filled, wanted)
        times = self._fill_times(created, len(parts), taker)
        primary, alternatives = instrument.primary_mic, instrument.alt_venues
        book, previous = self.books[instrument.instrument_id], created
        for sequence, (quantity, planned) in enumerate(zip(parts, times, strict=True)):
            micros = max(planned, previous + 1)
            if not taker and limit is not None:
                micros = book.reached(micros, side, limit)
            micros = previous = min(micros, SESSION_CLOSE_US - 1)
            mic = primary if r() < 0.7 else _pick(r, alternatives)
            price = self._fill_price(instrument, side, limit, micros)
            self.fills.append(
                (micros, order_id, sequence, quantity, price, instrument.currency, mic, capacity,
                 instrument.isin is None)
            )  # fmt: skip
        return previous

    def order(self, number: int, created: int, instrument: Instrument, forced: bool) -> Row:
        """One order row (and its fills, kept for `executions`)."""
        r = self.rng.random
        order_id = self.day_key * ID_FACTOR + number
        account, house = self._account()
        capacity = "DEAL" if house else "MTCH" if r() < 0.02 else "AOTC"
        if r() < 0.6:
            trader, algo = None, _pick(r, self.ref.algo_ids)
        else:
            trader, algo = _pick(r, self.ref.trader_ids), None
        side = "BUY" if r() < 0.5 else "SELL"
        status, order_type, tif = self._status_and_type(forced)
        quantity = self._quantity(self.books[instrument.instrument_id].at(created)[1], house)
        will_fill = status in ("FILLED", "CANCELLED_PARTIAL", "PARTIALLY_FILLED")
        taker = order_type == "MARKET" or tif == "IOC" or (status == "FILLED" and r() < 0.6)
        limit = None
        if order_type == "LIMIT":
            mode = ("take" if taker else "join") if will_fill else "rest"
            limit = self._limit(instrument, side, created, mode)
        updated = created
        if will_fill:
            filled = quantity if status == "FILLED" else 1 + int(r() * (quantity - 1))
            plan = (created, filled, taker, capacity)
            updated = self._fills(order_id, instrument, side, limit, plan)
        if status.startswith("CANCELLED"):
            mean = 150.0 if tif == "IOC" else _CANCEL_DELAY_US
            delay = 1 + int(self.rng.expovariate(1 / mean))
            updated = min(updated + delay, max(SESSION_CLOSE_US - 1, updated + 1))
            status = "CANCELLED"
        return (
            str(order_id), account, str(instrument.instrument_id), trader, algo, side, order_type,
            None if limit is None else price_text(limit), str(quantity), tif, status,
            self.render(created), self.render(updated),
        )  # fmt: skip

    def orders(self) -> Iterator[Row]:
        """The day's orders in creation order; their fills are kept for `executions`."""
        if len(self.books) != len(self.ref.instruments):
            raise RuntimeError("consume quotes() before orders(): orders are priced on the NBBO")
        ref, rng, count = self.ref, self.rng, self.order_count
        cum, total = [], 0.0
        for instrument in ref.instruments:
            total += instrument.weight
            cum.append(total)
        picks = rng.choices(ref.instruments, cum_weights=cum, k=count)
        forced_index = count // 2  # the no-ISIN instrument always gets one filled order
        picks[forced_index] = next(
            i for i in ref.instruments if i.instrument_id == ref.no_isin_instrument_id
        )
        statuses = self.status_counts
        for index, created in enumerate(_order_times(rng, count)):
            row = self.order(index + 1, created, picks[index], forced=index == forced_index)
            status = row[10] or ""
            statuses[status] = statuses.get(status, 0) + 1
            yield row
        self._orders_done = True

    def executions(self) -> Iterator[Row]:
        """Execution rows in time order, ids and venue transaction ids assigned in that order."""
        if not self._orders_done:
            raise RuntimeError("consume orders() before executions(): fills come from orders")
        bits = _day_rng(self.seed, self.trade_date, "venue-ids").getrandbits
        yymmdd = self.trade_date.strftime("%y%m%d")
        render, base = self.render, self.day_key * ID_FACTOR
        prices: dict[int, str] = {}
        self.fills.sort()  # (micros, order_id, sequence) is unique, later fields never compared
        self.no_isin_executions = sum(fill[8] for fill in self.fills)
        for number, fill in enumerate(self.fills, start=1):
            micros, order_id, _, quantity, price, currency, mic, capacity, _ = fill
            price_str = prices.get(price) or prices.setdefault(price, price_text(price))
            yield (
                str(base + number), str(order_id), render(micros), str(quantity), price_str,
                currency, mic, f"{mic}{yymmdd}{bits(20):05X}{number:08d}", capacity,
            )  # fmt: skip


def _with_progress(
    rows: Iterable[Row],
    total: Callable[[], int],
    stage: str,
    progress: Callable[[str, int, int], None] | None,
) -> Iterator[Row]:
    """Pass rows through, reporting (stage, done, total) about every 10 % and at the end."""
    if progress is None:
        yield from rows
        return
    done, step = 0, max(1, total() // 10)
    for row in rows:
        yield row
        done += 1
        if done % step == 0:
            progress(stage, done, total())
    if done % step:
        progress(stage, done, total())


def build_day(
    ref: ReferenceData,
    trade_date: date,
    orders: int = 50_000,
    seed: int = 42,
    progress: Callable[[str, int, int], None] | None = None,
) -> DayData:
    """Generate one day's quotes, orders and executions, deterministically.

    Args:
        ref: reference data from `build_reference_data` (normally with the same seed).
        trade_date: the trading day; all timestamps fall in 08:00-16:30 UTC of that day.
        orders: number of orders to create.
        seed: the run's seed, combined with the date so that days differ.
        progress: optional callback (stage, done, total), called about every 10 %.

    Returns:
        The rows per table and summary counts.

    Raises:
        ValueError: if `orders` is outside 1..MAX_ORDERS (ids reserve 9 digits per day).
    """
    stream = DayStream(ref, trade_date, orders, seed)
    day = DayData(trade_date=trade_date)
    day.quotes = list(
        _with_progress(stream.quotes(), lambda: stream.quote_total, "generate quotes", progress)
    )
    day.orders = list(_with_progress(stream.orders(), lambda: orders, "generate orders", progress))
    day.executions = list(
        _with_progress(
            stream.executions(), lambda: stream.execution_total, "generate executions", progress
        )
    )
    day.status_counts = stream.status_counts
    day.no_isin_executions = stream.no_isin_executions
    return day


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationStats:
    """What `generate` loaded for one day, and how fast."""

    trade_date: date
    orders: int
    executions: int
    quotes: int
    accounts: int
    instruments: int
    seconds: float
    filled_orders: int = 0
    partially_filled_orders: int = 0
    cancelled_orders: int = 0
    new_orders: int = 0
    no_isin_instrument_id: int = 0
    no_isin_executions: int = 0
    house_account_ids: tuple[str, ...] = ()
    firm_lei: str = ""

    @property
    def orders_per_second(self) -> float:
        """End-to-end throughput: generation and load overlap, so this is the figure to quote."""
        return self.orders / self.seconds if self.seconds > 0 else float("inf")


def create_schema(conn: psycopg.Connection) -> None:
    """Create the QSuite schema (idempotent) from the packaged ``sql/qsuite_schema.sql``."""
    ddl = resources.files("regreport").joinpath("sql/qsuite_schema.sql").read_text("utf-8")
    conn.execute(ddl)  # type: ignore[arg-type] - a trusted, packaged multi-statement script


def _copy_rows(
    cur: psycopg.Cursor, target: sql.Composable, columns: Sequence[str], rows: Iterable[Row]
) -> int:
    """COPY rows (text format) in chunks as they come; return how many were sent."""
    statement = sql.SQL("copy {} ({}) from stdin").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    sent = 0
    lines = copy_text(rows)
    with cur.copy(statement) as copy:
        while chunk := "".join(islice(lines, _COPY_CHUNK_ROWS)):
            copy.write(chunk.encode())
            sent += chunk.count("\n")
    return sent


def _upsert(cur: psycopg.Cursor, table: str, rows: Sequence[Row]) -> None:
    """Replace reference rows by key: COPY into a temp table, then insert ... on conflict.

    Rows cannot simply be deleted and re-inserted: orders of other days reference them.
    """
    columns, key = TABLES[table]
    temp = sql.Identifier(f"_gen_{table}")
    cur.execute(
        sql.SQL("create temp table {} (like {} including defaults) on commit drop").format(
            temp, sql.Identifier(SCHEMA, table)
        )
    )
    _copy_rows(cur, temp, columns, rows)
    non_key = [c for c in columns if c not in key]
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    cur.execute(
        sql.SQL(
            "insert into {target} as t ({cols}) select {cols} from {temp} order by {key} "
            "on conflict ({key}) do update set {updates} "
            "where ({current}) is distinct from ({incoming})"  # unchanged rows are not rewritten
        ).format(
            target=sql.Identifier(SCHEMA, table),
            cols=cols,
            temp=temp,
            key=sql.SQL(", ").join(map(sql.Identifier, key)),
            updates=sql.SQL(", ").join(
                sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in non_key
            ),
            current=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in non_key),
            incoming=sql.SQL(", ").join(
                sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in non_key
            ),
        )
    )


def _delete_day(cur: psycopg.Cursor, trade_date: date) -> None:
    """Remove the day's rows: executions of the day or of its orders first (foreign key).

    Deleting an order makes PostgreSQL look for executions that still reference it; the schema's
    index on ``executions.order_id`` keeps that from being a scan per deleted order.
    """
    start = datetime(trade_date.year, trade_date.month, trade_date.day, tzinfo=UTC)
    bounds = {"lo": start, "hi": start + timedelta(days=1)}
    cur.execute(
        """
        delete from qsuite.executions
        where (executed_at >= %(lo)s and executed_at < %(hi)s)
            or order_id in (
                select order_id from qsuite.orders
                where created_at >= %(lo)s and created_at < %(hi)s
            )
        """,
        bounds,
    )
    cur.execute(
        "delete from qsuite.orders where created_at >= %(lo)s and created_at < %(hi)s", bounds
    )
    cur.execute(
        "delete from qsuite.quotes where quoted_at >= %(lo)s and quoted_at < %(hi)s", bounds
    )


def load(
    conn: psycopg.Connection,
    ref: ReferenceData,
    day: DayData | DayStream,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Upsert the reference data and replace the day's rows, in one transaction.

    Args:
        conn: an open connection to the QSuite database (schema already created).
        ref: the reference data to upsert.
        day: materialised rows (`build_day`) or a fresh `DayStream`, which is generated while
            it is copied.
        progress: optional callback (stage, done, total).

    Returns:
        Rows copied per day table.
    """
    if isinstance(day, DayStream):
        sources = {
            "quotes": (day.quotes(), lambda: day.quote_total),
            "orders": (day.orders(), lambda: day.order_count),
            "executions": (day.executions(), lambda: day.execution_total),
        }
    else:
        sources = {
            table: (rows, lambda rows=rows: len(rows))
            for table, rows in (
                ("quotes", day.quotes),
                ("orders", day.orders),
                ("executions", day.executions),
            )
        }
    copied: dict[str, int] = {}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("set local client_encoding to 'UTF8'")
        for table in REFERENCE_TABLES:
            _upsert(cur, table, ref.rows[table])
        _delete_day(cur, day.trade_date)
        for table in DAY_TABLES:  # quotes, orders, executions: the order the streams need
            rows, total = sources[table]
            copied[table] = _copy_rows(
                cur,
                sql.Identifier(SCHEMA, table),
                TABLES[table][0],
                _with_progress(rows, total, table, progress),
            )
    return copied


def generate(
    dsn: str,
    trade_date: date,
    orders: int = 50_000,
    seed: int = 42,
    progress: Callable[[str, int, int], None] | None = None,
) -> GenerationStats:
    """Generate one trading day of QSuite data and load it into the database at `dsn`.

    Creates the schema if needed, upserts the reference data for `seed` and replaces the rows of
    `trade_date`; other dates are left alone, so running it per date accumulates history and
    running it twice for a date changes nothing.

    Args:
        dsn: libpq connection string of the QSuite source database.
        trade_date: the day to (re)generate.
        orders: number of orders for the day.
        seed: reproducibility seed; the same (trade_date, orders, seed) gives identical tables.
        progress: optional callback (stage, done, total); stages are "quotes", "orders" and
            "executions", each reported about every 10 %.

    Returns:
        Counts and timing of what was loaded.
    """
    started = time.perf_counter()
    ref = build_reference_data(seed)
    stream = DayStream(ref, trade_date, orders, seed)
    with psycopg.connect(dsn) as conn:
        create_schema(conn)
        conn.commit()
        copied = load(conn, ref, stream, progress)
    counts = stream.status_counts
    return GenerationStats(
        trade_date=trade_date,
        orders=copied["orders"],
        executions=copied["executions"],
        quotes=copied["quotes"],
        accounts=len(ref.rows["accounts"]),
        instruments=len(ref.rows["instruments"]),
        seconds=time.perf_counter() - started,
        filled_orders=counts.get("FILLED", 0),
        partially_filled_orders=counts.get("PARTIALLY_FILLED", 0),
        cancelled_orders=counts.get("CANCELLED", 0),
        new_orders=counts.get("NEW", 0),
        no_isin_instrument_id=ref.no_isin_instrument_id,
        no_isin_executions=stream.no_isin_executions,
        house_account_ids=ref.house_account_ids,
        firm_lei=ref.firm_lei,
    )
