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
- **Every reporting case, every day.** The universe is shares (most of the volume), ETFs,
  government and corporate bonds (percentage prices, nominal quantities, accrued interest),
  listed options and futures on EU venues (in FIRDS) and US venues (not in FIRDS), and spot FX
  (out of MiFIR scope). Clients are legal entities, natural persons, joint accounts,
  discretionary mandates and powers of attorney (a firm or a person decides); some execute
  themselves (DEA) or reach us through another firm. Fills are on or off venue (XOFF, with a
  counterparty), with waivers, OTC post-trade flags, branch membership, two-leg strategies,
  internal transfers and same-day busts. The random flow produces all of these at realistic
  rates; `_CASES` additionally forces one order per case at fixed positions, so that every
  case is present from MIN_ORDERS_ALL_CASES orders a day on (tests use small days).
- **Corrections.** `correct_executions` amends or busts fills of an earlier day the way a
  back office would (new version, updated_at on a later day), for the correction path.

Prices are integers in units of 0.0001 (`PRICE_SCALE`) internally, so ticks are exact.
"""

from __future__ import annotations

import calendar
import logging
import math
import random
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from itertools import islice
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from regreport import roles
from regreport.identifiers import (
    concat_national_id,
    isin_with_check_digit,
    italian_fiscal_code,
    lei_with_check_digits,
    spanish_dni,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

log = logging.getLogger(__name__)

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
OFF_VENUE = "XOFF"
_CENT = Decimal("0.01")

#: Columns and primary keys of the tables this module writes, in load (foreign key) order.
_TABLE_COLUMNS = {
    "firm": "firm_id lei name country_code is_investment_firm",
    "venues": "mic operating_mic name country_code ccp_lei",
    "accounts": "account_id account_type is_house lei legal_name first_name surname birth_date "
    "nationality national_id national_id_type branch_country mandate poa_lei poa_first_name "
    "poa_surname poa_birth_date poa_national_id poa_national_id_type opened_at "
    "discretion_group_id large_trader_id",
    "account_joint_holders": "account_id holder_seq first_name surname birth_date nationality "
    "national_id national_id_type",
    "traders": "trader_id first_name surname birth_date nationality national_id "
    "national_id_type branch_country",
    "algos": "algo_id name",
    "instruments": "instrument_id isin cfi full_name currency primary_mic instrument_type "
    "tick_size reference_price in_firds price_notation quantity_notation notional_currency "
    "is_sovereign maturity_date expiry_date underlying_isin option_type strike_price "
    "strike_currency exercise_style delivery_type price_multiplier",
    "compliance_rules": "rule_id account_id rule_type threshold currency valid_from",
    "fx_rates": "rate_date currency eur_per_unit",
    "orders": "order_id account_id instrument_id trader_id algo_id side order_type limit_price "
    "quantity time_in_force status decision_trader_id client_executes transmitted_by_lei "
    "short_selling_ind created_at updated_at",
    "executions": "execution_id order_id executed_at quantity price currency venue_mic "
    "venue_transaction_id trading_capacity exec_kind counterparty_lei member_branch_country "
    "accrued_interest complex_trade_id waiver_ind otc_post_trade_ind status version updated_at",
    "quotes": "instrument_id quoted_at bid_price bid_size ask_price ask_size currency",
}
_TABLE_KEYS = {
    "compliance_rules": "rule_id valid_from",
    "quotes": "instrument_id quoted_at",
    "account_joint_holders": "account_id holder_seq",
    "fx_rates": "rate_date currency",
}
#: Columns and primary keys of the tables this module writes, in load (foreign key) order.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    table: (tuple(columns.split()), tuple(_TABLE_KEYS.get(table, columns.split()[0]).split()))
    for table, columns in _TABLE_COLUMNS.items()
}
REFERENCE_TABLES = ("firm", "venues", "accounts", "account_joint_holders", "traders", "algos")
REFERENCE_TABLES += ("instruments", "compliance_rules", "fx_rates")
#: Reference tables nothing references: replaced whole rather than upserted, so that holders
#: of a previous seed's joint accounts do not linger.
_REPLACED_TABLES = ("account_joint_holders", "fx_rates")
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
    # Bonds and listed derivatives.
    VenueSpec("XFRA", "XFRA", "DEUTSCHE BOERSE AG", "DE", True),
    VenueSpec("MOTX", "XMIL", "ELECTRONIC BOND MARKET", "IT", True),
    VenueSpec("SEND", "BMEX", "SEND - SISTEMA ELECTRONICO DE NEGOCIACION DE DEUDA", "ES", False),
    VenueSpec("XEUR", "XEUR", "EUREX DEUTSCHLAND", "DE", True),
    # Non-EU derivatives venues: their contracts are not in FIRDS.
    VenueSpec("XCBO", "XCBO", "CBOE GLOBAL MARKETS INC.", "US", True),
    VenueSpec("XCME", "XCME", "CHICAGO MERCANTILE EXCHANGE", "US", True),
    # ISO 10383's code for off-venue trades in listed instruments (RTS 22 field 36).
    VenueSpec(OFF_VENUE, OFF_VENUE, "OFF-EXCHANGE TRANSACTIONS - LISTED INSTRUMENTS", "ZZ", False),
)
_VENUE_COUNTRY = {v.mic: v.country for v in VENUES}
#: Countries where the firm (head office FR) has branches that are venue members (field 37).
_BRANCH_COUNTRIES = frozenset(("DE", "NL", "IT", "ES"))
#: Where a stock also trades besides its primary market (EU MTFs for EU lines, UK ones for UK).
_ALT_VENUES = {"EU": ("AQEU", "CEUX"), "GB": ("TRQX", "BATE")}


@dataclass(frozen=True)
class InstrumentSpec:
    """A fictional listed instrument: name, listing, price level and relative liquidity."""

    name: str
    country: str  # ISIN country prefix
    primary_mic: str
    currency: str
    kind: str  # SHARE, ETF, BOND, OPTION, FUTURE or FX_SPOT
    base_price: float  # derivatives: a fraction of the underlying's price
    weight: float
    cfi: str = ""  # empty: the kind's default CFI
    in_firds: bool = True
    #: Bonds: annual coupon in percent, maturity (coupons fall on its day and month).
    sovereign: bool = False
    coupon: str | None = None
    maturity: date | None = None
    #: Derivatives: the underlying share (by name), expiry, contract terms.
    underlying: str | None = None
    expiry: date | None = None
    option_type: str | None = None
    exercise_style: str | None = None
    delivery_type: str | None = None
    multiplier: int = 1


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


def _bond(
    name: str, country: str, mic: str, coupon: str, maturity: date, weight: float, *, gov: bool
) -> InstrumentSpec:
    # CFI debt/bond/fixed rate/(T)reasury guarantee or (U)nsecured/fixed maturity/bearer.
    cfi = "DBFTFB" if gov else "DBFUFB"
    return InstrumentSpec(
        name, country, mic, "EUR", "BOND", 100.0, weight, cfi, sovereign=gov, coupon=coupon,
        maturity=maturity,
    )  # fmt: skip


def _option(
    underlying: str, mic: str, ccy: str, call: bool, style: str, delivery: str, expiry: date
) -> InstrumentSpec:
    # CFI option/call-put/European-American/stock underlying/physical-cash/standardised.
    cfi = f"O{'C' if call else 'P'}{style[0]}S{delivery[0]}S"
    in_firds = _VENUE_COUNTRY[mic] != "US"
    return InstrumentSpec(
        underlying, "DE" if in_firds else "US", mic, ccy, "OPTION", 0.05, 2.0, cfi, in_firds,
        underlying=underlying, expiry=expiry, option_type="CALL" if call else "PUTO",
        exercise_style=style, delivery_type=delivery, multiplier=100,
    )  # fmt: skip


def _future(underlying: str, mic: str, ccy: str, multiplier: int, expiry: date) -> InstrumentSpec:
    # CFI future/financial/single stock/cash/standardised/n.a.
    in_firds = _VENUE_COUNTRY[mic] != "US"
    return InstrumentSpec(
        underlying, "DE" if in_firds else "US", mic, ccy, "FUTURE", 1.0, 3.0, "FFSCSX",
        in_firds, underlying=underlying, expiry=expiry, delivery_type="CASH",
        multiplier=multiplier,
    )  # fmt: skip


# Fixed dates, like the rest of the reference data (it ignores the trade date): expiries and
# maturities lie after the trade dates the platform is demonstrated on (2025-2026).
# Quarterly expiries (third Fridays) far enough ahead that demo and test days before them
# never trade an expired contract (RR-TS-004 would quarantine it).
_DEC27, _MAR28, _JUN28 = date(2027, 12, 17), date(2028, 3, 17), date(2028, 6, 16)
INSTRUMENTS += (
    _bond("Republique Francaise OAT 2.75% 25/10/2032", "FR", "XPAR", "2.75",
          date(2032, 10, 25), 4, gov=True),
    _bond("Bundesrepublik Deutschland Bund 2.20% 15/02/2034", "DE", "XFRA", "2.20",
          date(2034, 2, 15), 3, gov=True),
    _bond("Buoni Poliennali del Tesoro 3.85% 01/09/2030", "IT", "MOTX", "3.85",
          date(2030, 9, 1), 3, gov=True),
    _bond("Reino de Espana Bonos 3.15% 30/04/2033", "ES", "SEND", "3.15",
          date(2033, 4, 30), 2, gov=True),
    _bond("Aubrac Energies SA 4.125% 12/06/2031", "FR", "XPAR", "4.125",
          date(2031, 6, 12), 1.5, gov=False),
    _bond("Rheinfeld Chemie AG 3.50% 20/11/2029", "DE", "XFRA", "3.50",
          date(2029, 11, 20), 1, gov=False),
    _bond("Banca Tirrenica S.p.A. 5.00% 15/07/2028", "IT", "MOTX", "5.00",
          date(2028, 7, 15), 1, gov=False),
    _option("Rheinfeld Chemie AG", "XEUR", "EUR", True, "EURO", "PHYS", _DEC27),
    _option("Rheinfeld Chemie AG", "XEUR", "EUR", False, "EURO", "PHYS", _DEC27),
    _option("Aubrac Énergies SA", "XEUR", "EUR", True, "AMER", "CASH", _MAR28),
    _option("Banque Morvan SA", "XEUR", "EUR", False, "EURO", "CASH", _MAR28),
    _option("Elbwerk Software SE", "XCBO", "USD", True, "AMER", "PHYS", _DEC27),
    _option("Elbwerk Software SE", "XCBO", "USD", False, "AMER", "PHYS", _DEC27),
    _future("Bayerwald Motoren AG", "XEUR", "EUR", 100, _DEC27),
    _future("Valmont Luxe SA", "XEUR", "EUR", 10, _JUN28),
    _future("Zuiderlicht Halfgeleiders N.V.", "XCME", "USD", 50, _MAR28),
    # Spot FX is not a MiFID II financial instrument: it is traded, but never reported.
    InstrumentSpec("EUR/USD spot", "XS", OFF_VENUE, "USD", "FX_SPOT", 1.085, 0.02, "IFXXXP",
                   in_firds=False),
)  # fmt: skip
FIRST_INSTRUMENT_ID = 1001
#: National prefix of the NSIN per ISIN country (the rest are random digits).
_NSIN_PREFIX = {"FR": "0000", "DE": "000", "NL": "00", "IT": "000", "ES": "01", "BE": "0"}
_NSIN_PREFIX |= {"GB": "00B", "IE": "00B", "US": ""}
_CFI = {"SHARE": "ESVUFR", "ETF": "CEOGEU"}
#: Share of an instrument type's fills that are done off venue (XOFF) against a counterparty.
_OFF_VENUE_SHARE = {"SHARE": 0.02, "ETF": 0.04, "BOND": 0.45, "FX_SPOT": 1.0}
#: Pre-trade waivers a venue fill may carry (field 61), by instrument type.
_WAIVERS = {
    "SHARE": ("RFPT", "NLIQ", "OILQ", "SIZE", "RFPT SIZE"),
    "ETF": ("RFPT", "SIZE", "ILQD"),
    "BOND": ("ILQD", "SIZE", "PRIC"),
    "OPTION": ("SIZE", "ILQD"),
    "FUTURE": ("SIZE",),
}
_WAIVER_SHARE = {"SHARE": 0.04, "ETF": 0.04, "BOND": 0.10, "OPTION": 0.03, "FUTURE": 0.03}
_DAILY_VOL = {"SHARE": 0.015, "ETF": 0.008, "BOND": 0.003, "OPTION": 0.06, "FUTURE": 0.015}
_DAILY_VOL["FX_SPOT"] = 0.004
#: Quote sizes: nominal for bonds, contracts for derivatives, base currency for FX.
_QUOTE_LOT = {"BOND": 100_000, "OPTION": 5, "FUTURE": 5, "FX_SPOT": 1_000_000}
#: OTC post-trade indicators (field 63) of off-venue fills.
_OTC_POST_TRADE = ("SIZE", "BENC", "LRGS", "ACTX", "SIZE ILQD")
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
    kind: str = "SHARE"
    in_firds: bool = True
    #: Contract size of derivatives: a quantity of 1 is `multiplier` units of the underlying.
    multiplier: int = 1
    #: Quote sizes are multiples of this (0: 100 or 10 shares by price level).
    quote_lot: int = 0
    #: Sells carry a short selling indicator (shares and sovereign debt, field 62).
    short_sell: bool = False
    off_venue_share: float = 0.0
    waiver_share: float = 0.0
    coupon: str | None = None
    maturity: date | None = None
    underlying_isin: str | None = None
    option_type: str | None = None


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
    #: Client accounts per profile (ACCOUNT_KINDS), for the cases every day must contain.
    accounts_by_kind: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Accounts where the firm takes the investment decision: house and discretionary.
    firm_decides: frozenset[str] = frozenset()
    #: Clients with direct electronic access: they execute their orders themselves.
    dma_accounts: frozenset[str] = frozenset()
    #: Investment firms that transmit client orders to us (RTS 22 Art. 4).
    transmitting_firm_leis: tuple[str, ...] = ()
    #: Brokers the firm trades with off venue.
    counterparty_leis: tuple[str, ...] = ()


def _synthetic_lei(rng: random.Random) -> str:
    entity = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=12))
    return lei_with_check_digits(rng.choice(_LOU_PREFIXES) + "00" + entity)


def tick_for_price(price: float) -> int:
    """Tick size (0.0001 units) for a price level, a simplified MiFID II tick table."""
    for limit, tick in ((1, 1), (5, 5), (10, 10), (20, 20), (50, 50), (100, 100), (200, 200)):
        if price < limit:
            return tick
    return 500 if price < 500 else 1000 if price < 1000 else 2000


def coupon_dates(maturity: date, on: date) -> tuple[date, date]:
    """The last coupon date on or before `on` and the next one, for an annual coupon.

    Coupons fall on the maturity's day and month every year (29 February: the 28th in other
    years), the usual pattern of euro government and corporate bonds.
    """

    def anniversary(year: int) -> date:
        if maturity.month == 2 and maturity.day == 29:
            return date(year, 2, 29 if calendar.isleap(year) else 28)
        return maturity.replace(year=year)

    last = anniversary(on.year)
    if last > on:
        last = anniversary(on.year - 1)
    return last, anniversary(last.year + 1)


def accrued_interest(
    nominal: int | Decimal, coupon: str | Decimal, maturity: date, on: date
) -> Decimal:
    """Accrued interest of a fill in a bond, ACT/ACT (ICMA), annual coupon, to 2 decimals.

    nominal x coupon % x (days since the last coupon) / (days in the coupon period), rounded
    half up to the cent. It is what the buyer pays the seller on top of the clean price, and
    what the report's net amount (field 35) adds to quantity x price / 100. Counted to the
    trade date, not the settlement date, to keep the synthetic data simple.

    Args:
        nominal: the nominal traded (the fill's quantity).
        coupon: the annual coupon in percent, e.g. ``"2.75"``.
        maturity: the bond's maturity date; coupons fall on its day and month.
        on: the day interest is accrued to.
    """
    last, following = coupon_dates(maturity, on)
    amount = Decimal(nominal) * Decimal(coupon) * (on - last).days
    amount /= 100 * (following - last).days
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _strike_step(price: float) -> float:
    return 1.0 if price < 50 else 2.0 if price < 100 else 5.0 if price < 500 else 10.0


def _instruments(rng: random.Random) -> tuple[list[Row], tuple[Instrument, ...], int]:
    light = [i for i, s in enumerate(INSTRUMENTS) if s.kind == "SHARE" and s.weight <= 2]
    no_isin_index = rng.choice(light)
    isins: set[str] = set()
    rows: list[Row] = []
    typed: list[Instrument] = []
    shares: dict[str, tuple[str, int]] = {}  # name -> (ISIN, reference price): underlyings
    for index, spec in enumerate(INSTRUMENTS):
        instrument_id = FIRST_INSTRUMENT_ID + index
        isin = ""
        while spec.kind != "FX_SPOT" and (not isin or isin in isins):
            prefix = _NSIN_PREFIX[spec.country]
            digits = "".join(rng.choices("0123456789", k=9 - len(prefix)))
            isin = isin_with_check_digit(spec.country + prefix + digits)
        isins.add(isin)
        under_isin, base, name = None, spec.base_price, spec.name
        strike: float | None = None
        if spec.underlying is not None:
            under_isin, under_price = shares[spec.underlying]
            base *= under_price / PRICE_SCALE
            if spec.kind == "OPTION":
                step = _strike_step(under_price / PRICE_SCALE)
                strike = step * max(
                    1, round(under_price / PRICE_SCALE * rng.uniform(0.9, 1.1) / step)
                )
                kind = "Call" if spec.option_type == "CALL" else "Put"
                name = f"{spec.underlying} {kind} {strike:g} {spec.currency} {spec.expiry:%d/%m/%Y}"
            else:
                name = f"{spec.underlying} Future {spec.expiry:%d/%m/%Y}"
        spread = 0.15 if spec.kind == "BOND" else 0.3
        price = base * (1 - spread / 2 + spread * rng.random())
        tick = 10 if spec.kind == "BOND" else 1 if spec.kind == "FX_SPOT" else tick_for_price(price)
        ref_price = max(tick, round(price * PRICE_SCALE / tick) * tick)
        new_listing = index == no_isin_index
        if spec.kind == "SHARE" and not new_listing:
            shares[spec.name] = (isin, ref_price)
        region = "GB" if spec.primary_mic == "XLON" else "EU"
        cash_equity = spec.kind in ("SHARE", "ETF")
        derivative = spec.kind in ("OPTION", "FUTURE")
        typed.append(
            Instrument(
                instrument_id=instrument_id,
                isin=None if new_listing or not isin else isin,
                currency=spec.currency,
                primary_mic=spec.primary_mic,
                alt_venues=_ALT_VENUES[region] if cash_equity else (),
                tick=tick,
                reference_price=ref_price,
                weight=0.5 if new_listing else spec.weight,
                daily_vol=_DAILY_VOL[spec.kind],
                kind=spec.kind,
                in_firds=spec.in_firds,
                multiplier=spec.multiplier,
                quote_lot=_QUOTE_LOT.get(spec.kind, 0),
                short_sell=spec.kind == "SHARE" or spec.sovereign,
                off_venue_share=_OFF_VENUE_SHARE.get(spec.kind, 0.0),
                waiver_share=_WAIVER_SHARE.get(spec.kind, 0.0),
                coupon=spec.coupon,
                maturity=spec.maturity,
                underlying_isin=under_isin,
                option_type=spec.option_type,
            )
        )
        bond = spec.kind == "BOND"
        rows.append(
            (
                str(instrument_id),
                None if new_listing or not isin else isin,
                spec.cfi or _CFI[spec.kind],
                name,
                spec.currency,
                spec.primary_mic,
                spec.kind,
                price_text(tick),
                price_text(ref_price),
                "t" if spec.in_firds else "f",
                "PERC" if bond else "MONE",
                "NOML" if bond else "UNIT",
                "EUR" if spec.kind == "FX_SPOT" else spec.currency if bond or derivative else None,
                "t" if spec.sovereign else "f",
                None if spec.maturity is None else spec.maturity.isoformat(),
                None if spec.expiry is None else spec.expiry.isoformat(),
                under_isin,
                spec.option_type,
                None if strike is None else price_text(round(strike * PRICE_SCALE)),
                None if strike is None else spec.currency,
                spec.exercise_style,
                spec.delivery_type,
                f"{spec.multiplier}.000000" if derivative else None,
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


#: Client account profiles. LEGAL and NATURAL: execution-only clients identified by LEI or
#: national id. JOINT: a NATURAL account with a second holder. DISCRETIONARY: the firm decides.
#: POA_LEI / POA_PERSON: a third party (a firm or a person) decides under a power of attorney.
#: DMA: a LEGAL client with direct electronic access that executes its orders itself.
ACCOUNT_KINDS = ("LEGAL", "NATURAL", "JOINT", "DISCRETIONARY", "POA_LEI", "POA_PERSON", "DMA")
#: Accounts whose profile is fixed whatever the seed, so that every profile always exists.
#: Account number: (profile, is a legal entity).
_FIXED_KINDS = {4: ("JOINT", False), 8: ("DISCRETIONARY", True), 15: ("POA_LEI", True)}
_FIXED_KINDS |= {16: ("POA_PERSON", False), 23: ("DMA", True), 42: ("DISCRETIONARY", False)}


def _account_kind(rng: random.Random, legal: bool) -> str:
    roll = rng.random()
    if legal:
        return (
            "DISCRETIONARY" if roll < 0.08 else "POA_LEI" if roll < 0.12
            else "DMA" if roll < 0.16 else "LEGAL"
        )  # fmt: skip
    return (
        "JOINT" if roll < 0.12 else "DISCRETIONARY" if roll < 0.22 else "POA_PERSON" if roll < 0.28
        else "POA_LEI" if roll < 0.31 else "NATURAL"
    )  # fmt: skip


def _person_values(p: Person) -> tuple[str, str, str, str, str, str]:
    birth = p.birth_date.isoformat()
    return (p.first_name, p.surname, birth, p.nationality, p.national_id, p.national_id_type)


@dataclass
class _Accounts:
    rows: list[Row] = field(default_factory=list)
    joint_holders: list[Row] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    kinds: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in ACCOUNT_KINDS})


def _accounts(rng: random.Random, firm_lei: str) -> _Accounts:
    out = _Accounts()
    no_poa: tuple[None, ...] = (None,) * 6
    for number, account_id in enumerate(HOUSE_ACCOUNTS, start=1):
        name = f"{FIRM_NAME} - house book {number}"
        out.rows.append(
            (account_id, "LEGAL", "t", firm_lei, name, *([None] * 6), FIRM_COUNTRY,
             "EXECUTION_ONLY", *no_poa, _opened_at(rng))
        )  # fmt: skip
    for number in range(1, CLIENT_ACCOUNTS + 1):
        account_id = f"CL{number:05d}"
        branch = rng.choices(("FR", "DE", "NL", "IT", "ES"), weights=(60, 15, 10, 8, 7))[0]
        legal = rng.random() < 0.7
        kind = _account_kind(rng, legal)
        kind, legal = _FIXED_KINDS.get(number, (kind, legal))
        mandate = "EXECUTION_ONLY"
        poa: tuple[str | None, ...] = no_poa
        if kind == "DISCRETIONARY":
            mandate = "DISCRETIONARY"
        elif kind == "POA_LEI":
            mandate, poa = "POWER_OF_ATTORNEY", (_synthetic_lei(rng), *no_poa[1:])
        elif kind == "POA_PERSON":
            first, surname, born, _, national_id, id_type = _person_values(make_person(rng))
            poa = (None, first, surname, born, national_id, id_type)  # no nationality column
            mandate = "POWER_OF_ATTORNEY"
        if legal:
            country = rng.choice(tuple(_LEGAL_SUFFIX))
            name = f"{rng.choice(_LEGAL_STEMS)} {rng.choice(_LEGAL_KINDS)} {_LEGAL_SUFFIX[country]}"
            holder: tuple[str | None, ...] = (_synthetic_lei(rng), name, *([None] * 6))
            out.weights.append(rng.paretovariate(1.2))
        else:
            p = make_person(rng)
            holder = (None, None, *_person_values(p))
            out.weights.append(rng.paretovariate(2.0) * 0.3)
            if kind == "JOINT":  # often a spouse of the same nationality
                nationality = p.nationality if rng.random() < 0.7 else None
                second = _person_values(make_person(rng, nationality))
                out.joint_holders.append((account_id, "2", *second))
        account_type = "LEGAL" if legal else "NATURAL"
        out.rows.append(
            (account_id, account_type, "f", *holder, branch, mandate, *poa, _opened_at(rng))
        )
        out.kinds[kind].append(account_id)
    return out


#: The firm's own Large Trader ID (SEC Rule 13h-1: 8-digit prefix, 4-digit suffix): it has
#: investment discretion over its house books and its clients' discretionary accounts.
FIRM_LTID = "96950001-0000"


def _discretion(account: Row) -> tuple[str | None, str | None]:
    """(discretion group, LTID) of an account, derived from its id and mandate, not drawn.

    House books and discretionary mandates are under the firm's discretion (one group, the
    firm's LTID). Every fourth other legal client is a registered large trader with an LTID of
    its own; everyone else has none (their own account is their group).
    """
    account_id, is_house, mandate = str(account[0]), account[2] == "t", account[12]
    if is_house or mandate == "DISCRETIONARY":
        return "QSUITE-DISCRETION", FIRM_LTID
    number = int(account_id[2:]) if account_id[2:].isdigit() else 0
    if account[1] == "LEGAL" and number % 4 == 0:
        return None, f"{90000000 + number:08d}-0001"
    return None, None


#: EUR per unit of each currency the instruments are priced in, around which the synthetic
#: reference rates move (a smooth yearly swing of +-3 %, the same for every seed).
FX_BASE = {"USD": 0.92, "GBP": 1.17, "CHF": 1.05, "JPY": 0.0062}
FX_FIRST, FX_LAST = date(2018, 1, 1), date(2030, 12, 31)


def fx_rates() -> list[Row]:
    """Daily reference rates (EUR per unit) for the currencies of `FX_BASE`.

    Every calendar day of `FX_FIRST`..`FX_LAST`, deterministic (no random draw).
    """
    rows: list[Row] = []
    day = FX_FIRST
    while day <= FX_LAST:
        angle = 2 * math.pi * day.toordinal() / 365.25
        for phase, (currency, base) in enumerate(FX_BASE.items()):
            rate = base * (1 + 0.03 * math.sin(angle + phase))
            rows.append((day.isoformat(), currency, f"{rate:.8f}"))
        day += timedelta(days=1)
    return rows


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
        # Derived, not drawn: adding the limit leaves every other generated value as it was.
        rows.append(
            (
                f"{account_id}-MAXPOS",
                account_id,
                "MAX_POSITION_NOTIONAL",
                f"{per_day * 2}.000000",
                "EUR",
                "2023-01-02 00:00:00+00",
            )
        )
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
    accounts = _accounts(rng, firm_lei)
    traders: list[Row] = []
    for number in range(1, TRADERS + 1):
        branch = rng.choices(("FR", "DE", "NL", "IT"), weights=(8, 3, 2, 2))[0]
        p = make_person(rng, rng.choice(("FR", "FR", "DE", "NL", "IT", "ES", "GB")))
        traders.append((f"TRD{number:03d}", *_person_values(p), branch))
    instrument_rows, instruments, no_isin_id = _instruments(rng)
    transmitting = tuple(_synthetic_lei(rng) for _ in range(3))
    counterparties = tuple(_synthetic_lei(rng) for _ in range(6))
    cumulative, total = [], 0.0
    for weight in accounts.weights:
        total += weight
        cumulative.append(total)
    kinds = accounts.kinds
    return ReferenceData(
        seed=seed,
        firm_lei=firm_lei,
        rows={
            "firm": [(str(FIRM_ID), firm_lei, FIRM_NAME, FIRM_COUNTRY, "t")],
            "venues": venues,
            "accounts": [(*row, *_discretion(row)) for row in accounts.rows],
            "account_joint_holders": accounts.joint_holders,
            "traders": traders,
            "algos": [(algo_id, name) for algo_id, name in ALGOS],
            "instruments": instrument_rows,
            "compliance_rules": _compliance_rules(rng, accounts.rows),
            "fx_rates": fx_rates(),
        },
        instruments=instruments,
        client_account_ids=tuple(str(row[0]) for row in accounts.rows if row[2] == "f"),
        client_cum_weights=tuple(cumulative),
        house_account_ids=HOUSE_ACCOUNTS,
        trader_ids=tuple(str(row[0]) for row in traders),
        algo_ids=tuple(algo_id for algo_id, _ in ALGOS),
        no_isin_instrument_id=no_isin_id,
        accounts_by_kind={kind: tuple(ids) for kind, ids in kinds.items()},
        firm_decides=frozenset((*HOUSE_ACCOUNTS, *kinds["DISCRETIONARY"])),
        dma_accounts=frozenset(kinds["DMA"]),
        transmitting_firm_leis=transmitting,
        counterparty_leis=counterparties,
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
    lot = instrument.quote_lot or (100 if instrument.reference_price < 100 * PRICE_SCALE else 10)
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


#: What a fill carries besides its price and size: (exec_kind, counterparty LEI, member branch
#: country, accrued interest, complex trade id, waiver codes, OTC post-trade codes, and the delay
#: in microseconds after which it is busted, 0 if never).
_Extras = tuple[str, str | None, str | None, str | None, str | None, str | None, str | None, int]
_PLAIN: _Extras = ("TRADE", None, None, None, None, None, None, 0)
#: A fill before ids are assigned: (micros, order_id, sequence, quantity, price, currency,
#: venue MIC, trading capacity, is on the no-ISIN instrument, extras). A tuple, as ~100k are
#: made per day.
_Fill = tuple[int, int, int, int, int, str, str, str, bool, _Extras]


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
#: Rates of the rarer events of the random flow (the forced cases guarantee one of each).
_TRANSMITTED_RATE = 0.01  # client orders received from another investment firm
_INTERNAL_RATE = 0.0003  # filled client orders in shares that are internal transfers
_COMPLEX_RATE = 0.02  # option orders that are the first leg of a two-leg strategy
_BUST_RATE = 0.0003  # fills busted later the same day
_BRANCH_RATE = 0.25  # venue fills in a branch country done through the local branch
_OTC_POST_TRADE_RATE = 0.3  # off-venue fills that carry an OTC post-trade indicator
#: Sell orders' short selling indicators (field 62): mostly plain sells.
_SHORT_CUTS = ((0.85, "SELL"), (0.92, "SESH"), (0.96, "SSEX"), (1.0, "UNDI"))
#: Quantities are whole multiples of this: the minimum denomination of bonds, FX round lots.
_LOT_UNIT = {"BOND": 1_000, "FX_SPOT": 10_000}


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


@dataclass(frozen=True)
class _Case:
    """An order every day contains, at a fixed position, whatever its size.

    The random flow produces every situation the report has to handle at realistic sizes;
    these forced orders make each of them appear in small test days too. Fields left None
    are drawn as usual.
    """

    name: str
    instrument: Callable[[Instrument], bool]
    account: str | None = None  # "HOUSE" or one of ACCOUNT_KINDS
    side: str | None = None
    short: str | None = None
    capacity: str | None = None
    decision: str | None = None  # "TRADER" or "ALGO": who decides for a firm-decided account
    transmitted: bool = False
    fill: str | None = None  # the first fill: XOFF, WAIVER, BRANCH, BUST, INTERNAL or COMPLEX


def _is(kind: str, *, in_firds: bool = True) -> Callable[[Instrument], bool]:
    return lambda i: i.kind == kind and i.isin is not None and i.in_firds == in_firds


_CASES: tuple[_Case, ...] = (
    _Case("no_isin", lambda i: i.isin is None and i.kind == "SHARE"),
    _Case("house_trader_short_waiver", _is("SHARE"), "HOUSE", "SELL", "SESH", decision="TRADER",
          fill="WAIVER"),
    _Case("joint_short_off_venue", _is("SHARE"), "JOINT", "SELL", "SSEX", fill="XOFF"),
    _Case("discretionary_algo_branch", lambda i: i.kind == "ETF"
          and _VENUE_COUNTRY[i.primary_mic] in _BRANCH_COUNTRIES, "DISCRETIONARY",
          decision="ALGO", fill="BRANCH"),
    _Case("poa_firm_sovereign_short", lambda i: i.kind == "BOND" and i.short_sell, "POA_LEI",
          "SELL", "SELL", capacity="MTCH"),
    _Case("poa_person_corporate_bond_off_venue", lambda i: i.kind == "BOND" and not i.short_sell,
          "POA_PERSON", "BUY", fill="XOFF"),
    _Case("dma_option", _is("OPTION"), "DMA"),
    _Case("transmitted_future", _is("FUTURE"), "LEGAL", transmitted=True),
    _Case("natural_future_non_firds", _is("FUTURE", in_firds=False), "NATURAL"),
    _Case("natural_short_undisclosed", _is("SHARE"), "NATURAL", "SELL", "UNDI"),
    _Case("fx_spot", lambda i: i.kind == "FX_SPOT", "LEGAL"),
    _Case("internal_transfer", _is("SHARE"), "LEGAL", fill="INTERNAL"),
    _Case("busted_fill", _is("SHARE"), fill="BUST"),
    # Last: its second leg takes the order after it (see `_forced_cases`).
    _Case("complex_option_strategy", lambda i: i.kind == "OPTION" and not i.in_firds, "HOUSE",
          decision="ALGO", fill="COMPLEX"),
)  # fmt: skip
#: The smallest day (in orders) that contains every forced case: the complex strategy's second
#: leg needs the slot after the last case.
MIN_ORDERS_ALL_CASES = len(_CASES) + 1


def _forced_cases(count: int) -> dict[int, _Case]:
    """Order index -> forced case, spread evenly over the day.

    From MIN_ORDERS_ALL_CASES orders on, case k sits at floor((2k+1) * count / 2n) for n slots;
    slots are at least one order apart, so the complex case's second leg (index + 1) never
    lands on another case. Smaller days get the first cases, without the complex one, in the
    first orders (one order: the no-ISIN case, the quarantine path).
    """
    slots = MIN_ORDERS_ALL_CASES
    if count >= slots:
        return {(2 * k + 1) * count // (2 * slots): case for k, case in enumerate(_CASES)}
    usable = [case for case in _CASES if case.fill != "COMPLEX"][:count]
    return dict(enumerate(usable))


@dataclass(frozen=True)
class _Leg:
    """The first leg of a two-leg strategy, which the next order completes."""

    partner: Instrument
    created: int
    micros: int
    values: tuple[str | None, ...]  # account .. tif, and decision .. short of the first leg
    quantity: int
    side: str
    capacity: str
    complex_id: str


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
        self._pending_leg: _Leg | None = None
        # Options that form a strategy with their opposite (same underlying and venue).
        self.partners = {
            a.instrument_id: b
            for a in ref.instruments
            for b in ref.instruments
            if a.kind == b.kind == "OPTION"
            and a.underlying_isin == b.underlying_isin
            and a.primary_mic == b.primary_mic
            and a.option_type != b.option_type
        }
        self.case_instruments = {
            case.name: tuple(
                i
                for i in ref.instruments
                if case.instrument(i)
                and (case.fill != "COMPLEX" or i.instrument_id in self.partners)
                and (case.fill != "XOFF" or i.kind in _OFF_VENUE_SHARE)
            )
            for case in _CASES
        }
        # Accrued interest is linear in the nominal: its day factor is computed once per bond.
        self.accrual = {
            i.instrument_id: (i.coupon, i.maturity)
            for i in ref.instruments
            if i.coupon is not None and i.maturity is not None
        }

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

    def _account(self, kind: str | None) -> tuple[str, bool]:
        r = self.rng.random
        if kind is not None:
            if kind == "HOUSE":
                return self.ref.house_account_ids[0], True
            return _pick(r, self.ref.accounts_by_kind[kind]), False
        if r() < 0.1:
            return self.ref.house_account_ids[0 if r() < 0.7 else 1], True
        index = bisect_right(self.ref.client_cum_weights, r() * self.client_total)
        return self.ref.client_account_ids[min(index, len(self.ref.client_account_ids) - 1)], False

    def _quantity(self, instrument: Instrument, price: int, house: bool) -> int:
        """Order size in the instrument's quantity unit: shares, nominal, contracts, currency."""
        lognormal, kind = self.rng.lognormvariate, instrument.kind
        if kind == "BOND":  # nominal, in multiples of the 1,000 denomination
            nominal = lognormal(math.log(200_000 if house else 50_000), 1.0)
            return int(min(20_000, max(2, round(nominal / 1_000))) * 1_000)
        if kind == "FX_SPOT":  # base currency amount, in round lots of 10,000
            amount = lognormal(math.log(2_000_000 if house else 500_000), 0.8)
            return int(max(2, round(amount / 10_000)) * 10_000)
        notional = lognormal(math.log(40_000 if house else 20_000), 1.1)
        shares = notional * PRICE_SCALE / (price * instrument.multiplier)
        if kind in ("OPTION", "FUTURE"):  # contracts
            return int(min(2_000, max(2, round(shares))))
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

    def _accrued(self, instrument_id: int, quantity: int) -> str | None:
        terms = self.accrual.get(instrument_id)
        if terms is None:
            return None
        coupon, maturity = terms
        return str(accrued_interest(quantity, coupon or "0", maturity, self.trade_date))

    def _extras(
        self, instrument: Instrument, mic: str, quantity: int, forced: str | None
    ) -> _Extras:
        """Venue-dependent attributes of one fill; `forced` makes the case's one appear."""
        r = self.rng.random
        counterparty = branch = waiver = otc = None
        if mic == OFF_VENUE:
            counterparty = _pick(r, self.ref.counterparty_leis)
            if forced == "XOFF" or r() < _OTC_POST_TRADE_RATE:
                otc = _pick(r, _OTC_POST_TRADE)
        else:
            if forced == "WAIVER" or r() < instrument.waiver_share:
                waiver = _pick(r, _WAIVERS[instrument.kind])
            country = _VENUE_COUNTRY[mic]
            if country in _BRANCH_COUNTRIES and (forced == "BRANCH" or r() < _BRANCH_RATE):
                branch = country
        accrued = self._accrued(instrument.instrument_id, quantity)
        bust = 0
        if forced == "BUST" or r() < _BUST_RATE:  # busted 5 minutes to 2 hours later
            bust = int(self.rng.uniform(300, 7_200) * _US_PER_S)
        plain = counterparty is None and waiver is None and branch is None and accrued is None
        if plain and not bust:
            return _PLAIN
        return ("TRADE", counterparty, branch, accrued, None, waiver, otc, bust)

    def _fills(
        self,
        order_id: int,
        instrument: Instrument,
        side: str,
        limit: int | None,
        plan: tuple[int, int, bool, str, str | None],
    ) -> int:
        """Append the order's fills; return the time of the last one."""
        created, filled, taker, capacity, forced = plan
        r = self.rng.random
        roll = r()
        wanted = 1 if roll < 0.45 else 2 if roll < 0.75 else 3 if roll < 0.9 else 4
        unit = _LOT_UNIT.get(instrument.kind, 1)
        parts = [part * unit for part in _split(self.rng, filled // unit, wanted)]
        times = self._fill_times(created, len(parts), taker)
        primary, alternatives = instrument.primary_mic, instrument.alt_venues
        book, previous = self.books[instrument.instrument_id], created
        no_isin = instrument.instrument_id == self.ref.no_isin_instrument_id
        off_venue = instrument.off_venue_share
        for sequence, (quantity, planned) in enumerate(zip(parts, times, strict=True)):
            micros = max(planned, previous + 1)
            if not taker and limit is not None:
                micros = book.reached(micros, side, limit)
            micros = previous = min(micros, SESSION_CLOSE_US - 1)
            if sequence == 0 and forced is not None:
                mic = OFF_VENUE if forced == "XOFF" or off_venue >= 1 else primary
            elif r() < off_venue:
                mic = OFF_VENUE
            else:
                mic = primary if not alternatives or r() < 0.7 else _pick(r, alternatives)
            price = self._fill_price(instrument, side, limit, micros)
            extras = self._extras(instrument, mic, quantity, forced if sequence == 0 else None)
            self.fills.append(
                (micros, order_id, sequence, quantity, price, instrument.currency, mic, capacity,
                 no_isin, extras)
            )  # fmt: skip
        return previous

    def _single_fill(
        self,
        order_id: int,
        instrument: Instrument,
        plan: tuple[int, int, str, str],
        extras: _Extras,
    ) -> None:
        """The one fill of an internal transfer or of a strategy leg, at a given time."""
        micros, quantity, side, capacity = plan
        mic = OFF_VENUE if extras[0] == "INTERNAL_TRANSFER" else instrument.primary_mic
        price = self._fill_price(instrument, side, None, micros)
        no_isin = instrument.instrument_id == self.ref.no_isin_instrument_id
        self.fills.append(
            (micros, order_id, 0, quantity, price, instrument.currency, mic, capacity, no_isin,
             extras)
        )  # fmt: skip

    def _second_leg(self, number: int, instrument: Instrument, leg: _Leg) -> Row:
        """The order completing a strategy: same client, size and time as the first leg."""
        order_id = self.day_key * ID_FACTOR + number
        extras: _Extras = ("TRADE", None, None, None, leg.complex_id, None, None, 0)
        plan = (leg.micros, leg.quantity, leg.side, leg.capacity)
        self._single_fill(order_id, instrument, plan, extras)
        account, trader, algo, side, order_type, limit, quantity, tif = leg.values[:8]
        return (
            str(order_id), account, str(instrument.instrument_id), trader, algo, side, order_type,
            limit, quantity, tif, "FILLED", *leg.values[8:], self.render(leg.created),
            self.render(leg.micros),
        )  # fmt: skip

    def _who(self, house: bool, account: str, case: _Case | None) -> tuple[str | None, ...]:
        """(trader, algo, decision maker, client executes): who executes and who decides."""
        r, ref = self.rng.random, self.ref
        if account in ref.dma_accounts:  # the client's own system executes (field 59 NORE)
            return None, None, None, "t"
        by_algo = case.decision == "ALGO" if case and case.decision else r() < 0.6
        trader = algo = decision = None
        if by_algo:
            algo = _pick(r, ref.algo_ids)
        else:
            trader = _pick(r, ref.trader_ids)
        if house or account in ref.firm_decides:
            if trader is not None:  # the executing trader decided, or a colleague did
                decision = trader if r() < 0.7 else _pick(r, ref.trader_ids)
            elif not (case and case.decision == "ALGO") and r() < 0.5:
                decision = _pick(r, ref.trader_ids)  # else the algo took the decision
        return trader, algo, decision, "f"

    def _regular(
        self,
        order_id: int,
        instrument: Instrument,
        side: str,
        plan: tuple[int, int, bool, str, str | None],
    ) -> tuple[str, str, str, int | None, int]:
        """Status, type, time in force, limit and last update of an order of the random flow."""
        created, quantity, forced_case, capacity, forced = plan
        r = self.rng.random
        status, order_type, tif = self._status_and_type(forced_case)
        will_fill = status in ("FILLED", "CANCELLED_PARTIAL", "PARTIALLY_FILLED")
        taker = order_type == "MARKET" or tif == "IOC" or (status == "FILLED" and r() < 0.6)
        limit = None
        if order_type == "LIMIT":
            mode = ("take" if taker else "join") if will_fill else "rest"
            limit = self._limit(instrument, side, created, mode)
        updated = created
        if will_fill:
            unit = _LOT_UNIT.get(instrument.kind, 1)
            units = quantity // unit
            filled = quantity if status == "FILLED" else (1 + int(r() * (units - 1))) * unit
            fill_plan = (created, filled, taker, capacity, forced)
            updated = self._fills(order_id, instrument, side, limit, fill_plan)
        if status.startswith("CANCELLED"):
            mean = 150.0 if tif == "IOC" else _CANCEL_DELAY_US
            delay = 1 + int(self.rng.expovariate(1 / mean))
            updated = min(updated + delay, max(SESSION_CLOSE_US - 1, updated + 1))
            status = "CANCELLED"
        return status, order_type, tif, limit, updated

    def order(
        self,
        number: int,
        created: int,
        instrument: Instrument,
        case: _Case | None = None,
        may_pair: bool = False,
    ) -> Row:
        """One order row (and its fills, kept for `executions`).

        Args:
            number: sequence number of the order in the day (its id's suffix).
            created: creation time, microseconds after midnight.
            instrument: what is traded.
            case: a forced case (always filled) or None for the random flow.
            may_pair: the next order is free to become the second leg of a strategy.
        """
        if (leg := self._pending_leg) is not None:
            self._pending_leg = None
            return self._second_leg(number, instrument, leg)
        r = self.rng.random
        order_id = self.day_key * ID_FACTOR + number
        account, house = self._account(case.account if case else None)
        capacity = "DEAL" if house else "MTCH" if r() < 0.02 else "AOTC"
        if case is not None and case.capacity is not None and not house:
            capacity = case.capacity
        trader, algo, decision, client_executes = self._who(house, account, case)
        transmitted = None
        if not house and ((case and case.transmitted) or r() < _TRANSMITTED_RATE):
            transmitted = _pick(r, self.ref.transmitting_firm_leis)
        side = case.side if case and case.side else "BUY" if r() < 0.5 else "SELL"
        short = None
        if side == "SELL" and instrument.short_sell:
            if case and case.short:
                short = case.short
            else:
                roll = r()
                short = next(code for cut, code in _SHORT_CUTS if roll < cut)
        forced = case.fill if case else None
        book_price = self.books[instrument.instrument_id].at(created)[1]
        quantity = self._quantity(instrument, book_price, house)
        pair = forced == "COMPLEX" or (
            may_pair and case is None and instrument.instrument_id in self.partners
            and r() < _COMPLEX_RATE
        )  # fmt: skip
        internal = forced == "INTERNAL" or (
            case is None and not house and instrument.kind == "SHARE" and r() < _INTERNAL_RATE
        )
        who = (decision, client_executes, transmitted, short)
        if pair or internal:  # one fill, shortly after the order arrives
            delay = 1 + int(self.rng.expovariate(1 / _TAKER_DELAY_US))
            updated = min(created + delay, SESSION_CLOSE_US - 1)
            status, order_type, tif, limit = "FILLED", "MARKET", "DAY", None
            if pair:
                complex_id = f"CX{order_id}"
                extras: _Extras = ("TRADE", None, None, None, complex_id, None, None, 0)
                values = (account, trader, algo, side, order_type, None, str(quantity), tif, *who)
                self._pending_leg = _Leg(
                    self.partners[instrument.instrument_id], created, updated, values, quantity,
                    side, capacity, complex_id,
                )  # fmt: skip
            else:
                accrued = self._accrued(instrument.instrument_id, quantity)
                extras = ("INTERNAL_TRANSFER", None, None, accrued, None, None, None, 0)
            self._single_fill(order_id, instrument, (updated, quantity, side, capacity), extras)
        else:
            plan = (created, quantity, case is not None, capacity, forced)
            status, order_type, tif, limit, updated = self._regular(
                order_id, instrument, side, plan
            )
        return (
            str(order_id), account, str(instrument.instrument_id), trader, algo, side, order_type,
            None if limit is None else price_text(limit), str(quantity), tif, status, *who,
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
        forced = _forced_cases(count)
        for index, case in forced.items():
            candidates = self.case_instruments[case.name]
            if candidates:
                picks[index] = candidates[int(rng.random() * len(candidates))]
        statuses = self.status_counts
        for index, created in enumerate(_order_times(rng, count)):
            instrument, case = picks[index], forced.get(index)
            if (leg := self._pending_leg) is not None:
                instrument, created, case = leg.partner, leg.created, None
            may_pair = index + 1 < count and index + 1 not in forced
            row = self.order(index + 1, created, instrument, case, may_pair)
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
            micros, order_id, _, quantity, price, currency, mic, capacity, _, extras = fill
            price_str = prices.get(price) or prices.setdefault(price, price_text(price))
            executed = render(micros)
            venue_id = bits(20)  # drawn for every fill, so that ids do not depend on XOFF ones
            venue_tx = None if mic == OFF_VENUE else f"{mic}{yymmdd}{venue_id:05X}{number:08d}"
            kind, counterparty, branch, accrued, complex_id, waiver, otc, bust = extras
            status, version, updated = "LIVE", "1", executed
            if bust:
                status, version, updated = "CANCELLED", "2", render(micros + bust)
            yield (
                str(base + number), str(order_id), executed, str(quantity), price_str, currency,
                mic, venue_tx, capacity, kind, counterparty, branch, accrued, complex_id, waiver,
                otc, status, version, updated,
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


def _missing_columns(conn: psycopg.Connection) -> list[str]:
    """Columns this module writes that existing qsuite tables lack (an older layout)."""
    rows = conn.execute(
        "select table_name, column_name from information_schema.columns where table_schema = %s",
        (SCHEMA,),
    ).fetchall()
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(table, set()).add(column)
    return [
        f"{table}.{column}"
        for table, (columns, _) in TABLES.items()
        if table in present
        for column in columns
        if column not in present[table]
    ]


def create_schema(conn: psycopg.Connection) -> None:
    """Create the QSuite schema (idempotent) from the packaged ``sql/qsuite_schema.sql``.

    A database created by an older release lacks columns (``create table if not exists``
    would keep the old tables). The source is synthetic and regenerated per day, so the
    schema is then dropped and recreated rather than migrated column by column.
    """
    missing = _missing_columns(conn)
    if missing:
        log.warning(
            "qsuite has an older layout (%d columns missing, e.g. %s): the source is "
            "synthetic, dropping and recreating schema %s; regenerate earlier days if needed",
            len(missing),
            ", ".join(missing[:3]),
            SCHEMA,
        )
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(SCHEMA)))
    ddl = resources.files("regreport").joinpath("sql/qsuite_schema.sql").read_text("utf-8")
    conn.execute(ddl)  # type: ignore[arg-type] - a trusted, packaged multi-statement script
    # A new (or recreated) schema has no grants: give the extract and auditor roles theirs.
    roles.grant_source(conn)


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
        conn: an open connection to the QSuite database (the schema is created or migrated
            if needed).
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
        create_schema(conn)  # cheap when current; migrates a database of an older layout
        cur.execute("set local client_encoding to 'UTF8'")
        for table in REFERENCE_TABLES:
            if table in _REPLACED_TABLES:
                cur.execute(sql.SQL("delete from {}").format(sql.Identifier(SCHEMA, table)))
                columns = TABLES[table][0]
                _copy_rows(cur, sql.Identifier(SCHEMA, table), columns, ref.rows[table])
            else:
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


# --------------------------------------------------------------------------------------------
# Corrections in the source
# --------------------------------------------------------------------------------------------

#: Bond coupons by instrument id: not a QSuite column, but fixed per instrument for every seed.
_COUPONS = {
    FIRST_INSTRUMENT_ID + index: spec.coupon
    for index, spec in enumerate(INSTRUMENTS)
    if spec.coupon is not None
}


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _amendment(
    rng: random.Random, fill: tuple, low: Decimal, high: Decimal, trade_date: date
) -> tuple[Decimal, Decimal, Decimal | None]:
    """New (price, quantity, accrued interest) of an amended fill.

    Half the amendments change the price to another tick inside the day's traded range (on the
    right side of the order's limit), the others reduce the quantity (a fill never grows past
    its order). A fill that allows neither keeps its values: the correction is then a
    re-statement with a new version, which the report must handle too.
    """
    _, price, quantity, accrued, tick, limit, side, maturity, instrument_id, notation = fill
    if limit is not None:
        high, low = (min(high, limit), low) if side == "BUY" else (high, max(low, limit))
    ticks = [low + tick * n for n in range(int((high - low) / tick) + 1)]
    prices = [p for p in ticks if p != price]
    unit = Decimal(1000) if notation == "NOML" else Decimal(1)
    units = int(quantity / unit)
    if prices and (units < 2 or rng.random() < 0.5):
        return prices[int(rng.random() * len(prices))], quantity, accrued
    if units < 2:
        return price, quantity, accrued
    new_quantity = unit * (1 + int(rng.random() * (units - 1)))
    coupon = _COUPONS.get(instrument_id)
    if accrued is not None and coupon is not None and maturity is not None:
        accrued = accrued_interest(new_quantity, coupon, maturity, trade_date)
    return price, new_quantity, accrued


def correct_executions(
    conn: psycopg.Connection,
    trade_date: date,
    on_date: date,
    amend: int = 0,
    cancel: int = 0,
    seed: int = 42,
) -> list[int]:
    """Amend or bust already-loaded fills of `trade_date`, as a later day's back office would.

    Picks `amend` + `cancel` live TRADE executions of `trade_date` deterministically (same
    arguments and same source rows: same picks and values). Amended fills get a new price (a
    tick inside the instrument's traded range that day) or a smaller quantity; cancelled ones
    status CANCELLED. Each gets version + 1 and updated_at at a time during the session of
    `on_date`, so an extract of `on_date` picks them up as corrections (RTS 22 Cxl + New).

    Args:
        conn: connection to the QSuite database; the changes are committed on return.
        trade_date: the day whose fills are corrected.
        on_date: the business day the corrections are made; after `trade_date`.
        amend: number of fills to amend.
        cancel: number of fills to cancel.
        seed: reproducibility seed.

    Returns:
        The affected execution ids, ascending.

    Raises:
        ValueError: if `on_date` is not a business day after `trade_date`, or there are fewer
            live fills than requested.
    """
    if on_date <= trade_date or on_date.weekday() >= 5:
        raise ValueError(f"corrections need a business day after {trade_date}, got {on_date}")
    if amend < 0 or cancel < 0:
        raise ValueError("amend and cancel must not be negative")
    lo, hi = _day_bounds(trade_date)
    with conn.transaction():
        fills = conn.execute(
            """
            select e.execution_id, e.price, e.quantity, e.accrued_interest, i.tick_size,
                   o.limit_price, o.side, i.maturity_date, i.instrument_id, i.quantity_notation
            from qsuite.executions as e
            join qsuite.orders as o using (order_id)
            join qsuite.instruments as i using (instrument_id)
            where e.executed_at >= %(lo)s and e.executed_at < %(hi)s
                and e.status = 'LIVE' and e.exec_kind = 'TRADE'
            order by e.execution_id
            """,
            {"lo": lo, "hi": hi},
        ).fetchall()
        if len(fills) < amend + cancel:
            raise ValueError(
                f"{trade_date} has {len(fills)} live fills, {amend + cancel} corrections asked"
            )
        ranges = {
            instrument_id: (low, high)
            for instrument_id, low, high in conn.execute(
                """
                select o.instrument_id, min(e.price), max(e.price)
                from qsuite.executions as e join qsuite.orders as o using (order_id)
                where e.executed_at >= %(lo)s and e.executed_at < %(hi)s
                group by o.instrument_id
                """,
                {"lo": lo, "hi": hi},
            ).fetchall()
        }
        rng = random.Random(f"qsuite:{seed}:{trade_date}:corrections:{on_date}")  # noqa: S311
        picked = rng.sample(fills, amend + cancel)
        render = _timestamp_renderer(on_date)
        span = SESSION_CLOSE_US - SESSION_OPEN_US
        with conn.cursor() as cur:
            for number, fill in enumerate(picked):
                updated = render(SESSION_OPEN_US + int(rng.random() * span))
                if number < amend:
                    low, high = ranges[fill[8]]
                    price, quantity, accrued = _amendment(rng, fill, low, high, trade_date)
                    cur.execute(
                        "update qsuite.executions set price = %s, quantity = %s,"
                        " accrued_interest = %s, version = version + 1, updated_at = %s"
                        " where execution_id = %s",
                        (price, quantity, accrued, updated, fill[0]),
                    )
                else:
                    cur.execute(
                        "update qsuite.executions set status = 'CANCELLED',"
                        " version = version + 1, updated_at = %s where execution_id = %s",
                        (updated, fill[0]),
                    )
    log.info(
        "corrected %d fills of %s on %s (%d amended, %d cancelled)",
        amend + cancel, trade_date, on_date, amend, cancel,
    )  # fmt: skip
    return sorted(fill[0] for fill in picked)
