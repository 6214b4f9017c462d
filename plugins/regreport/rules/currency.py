"""Currency rules against ISO 4217 for every currency field of the record.

Codes: RR-CCY-001 (ISO 4217 alphabetic code), RR-CCY-002 (not withdrawn before the trade date),
RR-CCY-003 (a currency, not one of ISO 4217's non-currency codes), RR-CCY-004 (monetary price
in the instrument's trading currency).

Fields: price (34), quantity (31), up-front payment (39), notional 1 and 2 (44, 45) and strike
price (52) currencies. Each is checked when populated; whether it must be populated depends on
the price/quantity type and the instrument (RR-VAL-010, RR-VAL-011, RR-VAL-015, RR-INS-002).

A code is current on a day if any ISO 4217 listing of it has no WithdrawalDate or was withdrawn
after that day. WithdrawalDate gives only a month or a year (sometimes a range); the code counts
as current to the end of the last month or year named. codes-all.csv has no introduction date,
so a code introduced after the trade date (e.g. VES in 2018) is not caught here.

Non-currency codes (RR-CCY-003): ISO 4217 also lists units that no trade price, strike,
notional or quantity is denominated in: ``XXX`` (no currency), ``XTS`` (testing), the metals
``XAU``/``XAG``/``XPT``/``XPD``, ``XDR`` and the other units of account (``XUA``, ``XSU``), the
European bond-market units ``XBA``-``XBD`` and the withdrawn ``XFO``, ``XFU``, ``XRE``. They
are read from codes-all.csv, not hard-coded: a code whose MinorUnit is ``-`` ("N.A." in SIX's
List One) or whose Entity is one of the list's ``ZZnn_`` pseudo-entities. Fund codes (``BOV``,
``CLF``, ``USN``...) are not flagged: they are units some instruments (e.g. Chilean UF bonds)
are really denominated in, and codes-all.csv does not mark them.

Instrument currency (RR-CCY-004): the gate's source `int_mifir__transactions` carries the
instrument master's currency as `instrument_currency` (not a report field). A monetary price in
another currency is a booking or conversion defect; a cross-listed instrument that trades in a
second currency needs its own instrument line. A record without that column (a file validated
on its own) cannot be checked, and passes.
"""

from __future__ import annotations

import csv
from functools import cache
from typing import TYPE_CHECKING, Any

from regreport.rules._registry import (
    CURRENCY_CSV,
    _require,
    finding,
    present,
    rule_impl,
    trade_date,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from regreport.rules._registry import Finding, RuleContext

FIELDS = (
    "price_currency",
    "quantity_currency",
    "strike_currency",
    "notional_currency",
    "notional_currency_2",
    "upfront_payment_currency",
)


#: codes-all.csv MinorUnit of a unit that is not a currency (List One prints "N.A.").
NO_MINOR_UNIT = "-"
#: Entity prefix of the list's non-country rows (bond-market units, testing, metals...).
PSEUDO_ENTITY_PREFIX = "ZZ"


@cache
def non_currency_codes(refdata_dir: Path) -> frozenset[str]:
    """ISO 4217 codes that are not a currency a price or amount can be denominated in.

    Cached per reference data directory (the key is the `RefData.refdata_dir` object, whose
    hash Path caches, so the lookup stays cheap on every record).
    """
    with _require(refdata_dir / CURRENCY_CSV).open(newline="", encoding="utf-8-sig") as handle:
        return frozenset(
            row["AlphabeticCode"].strip()
            for row in csv.DictReader(handle)
            if row["AlphabeticCode"].strip()
            and (
                row["MinorUnit"].strip() == NO_MINOR_UNIT
                or row["Entity"].strip().startswith(PSEUDO_ENTITY_PREFIX)
            )
        )


def _currencies(record: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name in FIELDS:
        value = record.get(name)
        if present(value):
            yield name, value


@rule_impl("RR-CCY-001")
def currency_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-001: "{CURRENCYCODE_3}: 3 alphabetic character code as defined in ISO 4217".

    Each populated currency field must hold an alphabetic code listed in ISO 4217 (current or
    historic).
    """
    for name, value in _currencies(record):
        if value not in ctx.refdata.currencies:
            yield finding("RR-CCY-001", name)


@rule_impl("RR-CCY-002")
def currency_current(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-002: "Currency in which the price is expressed" must be current on the trade date.

    Uses ISO 4217 WithdrawalDate, for every populated currency field; unknown codes are left to
    RR-CCY-001.
    """
    day = trade_date(record)
    if day is None:
        return
    for name, value in _currencies(record):
        if value in ctx.refdata.currencies and not ctx.refdata.currency_current_on(value, day):
            yield finding("RR-CCY-002", name)


@rule_impl("RR-CCY-003")
def currency_is_money(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-003: "{CURRENCYCODE_3}" must name a currency, not an ISO 4217 non-currency unit.

    ``XXX``, ``XTS``, precious metals, units of account and bond-market units (module
    docstring), for every populated currency field.
    """
    excluded = non_currency_codes(ctx.refdata.refdata_dir)
    for name, value in _currencies(record):
        if value in excluded:
            yield finding("RR-CCY-003", name)


@rule_impl("RR-CCY-004")
def price_in_instrument_currency(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-004: "Price currency" (field 34) of a monetary price is the instrument's currency.

    Compared with `instrument_currency` when the record carries it (module docstring). Only
    for a monetary price (no price type counts as monetary, as in RR-VAL-010): percentage,
    yield and basis-point prices have no currency.
    """
    currency, expected = record.get("price_currency"), record.get("instrument_currency")
    if (
        present(currency)
        and present(expected)
        and (record.get("price_type") or "MNTRY") == "MNTRY"
        and currency != expected
    ):
        yield finding("RR-CCY-004", "price_currency")
