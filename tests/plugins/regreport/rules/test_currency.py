"""RR-CCY-001..004 against the shared ISO 4217 file (DEM withdrawn 2002-03, HRK 2023-01)."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("code", ["EUR", "USD", "GBP", "JPY"])
def test_current_currency_passes(record, run_rule, code) -> None:
    record["price_currency"] = code
    assert run_rule("RR-CCY-001", record) == []
    assert run_rule("RR-CCY-002", record) == []


@pytest.mark.parametrize("code", ["ABC", "eur", "EURO"])
def test_unknown_currency_fails(record, run_rule, code) -> None:
    record["price_currency"] = code
    assert [(f.code, f.field) for f in run_rule("RR-CCY-001", record)] == [
        ("RR-CCY-001", "price_currency")
    ]
    assert run_rule("RR-CCY-002", record) == []


@pytest.mark.parametrize("code", ["", None])
def test_missing_currency_is_not_a_ccy_finding(record, run_rule, code) -> None:
    # Whether a currency must be there depends on the price type: RR-VAL-010, not RR-CCY.
    record["price_currency"] = code
    assert run_rule("RR-CCY-001", record) == []
    assert [f.code for f in run_rule("RR-VAL-010", record)] == ["RR-VAL-010"]


@pytest.mark.parametrize(
    "field",
    [
        "quantity_currency",
        "strike_currency",
        "notional_currency",
        "notional_currency_2",
        "upfront_payment_currency",
    ],
)
def test_every_currency_field_is_checked(record, run_rule, field) -> None:
    record[field] = "USD"
    assert run_rule("RR-CCY-001", record) == []
    record[field] = "XYZ"
    assert [(f.code, f.field) for f in run_rule("RR-CCY-001", record)] == [("RR-CCY-001", field)]
    record[field] = "DEM"  # withdrawn 2002, trade in 2026
    assert [(f.code, f.field) for f in run_rule("RR-CCY-002", record)] == [("RR-CCY-002", field)]


@pytest.mark.parametrize(
    ("code", "day", "current"),
    [
        ("DEM", date(2001, 12, 31), True),
        ("DEM", date(2002, 3, 31), True),
        ("DEM", date(2002, 4, 1), False),
        ("HRK", date(2023, 1, 14), True),
        ("HRK", date(2023, 2, 1), False),
        ("HRK", date(2026, 3, 2), False),
    ],
)
def test_withdrawn_currency(record, run_rule, code, day, current) -> None:
    record["price_currency"] = code
    record["trading_date"] = day
    assert run_rule("RR-CCY-001", record) == []
    assert [f.code for f in run_rule("RR-CCY-002", record)] == ([] if current else ["RR-CCY-002"])


def test_year_range_withdrawal(ctx) -> None:
    # "1989 to 1990"-style ranges: current up to the end of the last year named.
    ends = {end for ends in ctx.refdata.currencies.values() for end in ends if end}
    assert all(end.day == 1 for end in ends)
    assert date(1991, 1, 1) in ends


@pytest.mark.parametrize(
    "code",
    # No currency, testing, gold, silver, platinum, palladium, SDR, ADB unit, Sucre, the four
    # European bond-market units, and the withdrawn UIC franc: all in ISO 4217, none money.
    ["XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XUA", "XSU", "XBA", "XBB", "XBC", "XBD"]
    + ["XFU"],
)
def test_non_currency_codes_fail(record, run_rule, code) -> None:
    record["price_currency"] = code
    assert run_rule("RR-CCY-001", record) == []  # they are ISO 4217 codes
    assert [(f.code, f.field) for f in run_rule("RR-CCY-003", record)] == [
        ("RR-CCY-003", "price_currency")
    ]


@pytest.mark.parametrize(
    # Real currencies, including the CFA and CFP francs (X codes with minor units), the East
    # Caribbean dollar, and fund codes such as the Chilean Unidad de Fomento.
    "code",
    ["EUR", "USD", "XOF", "XAF", "XPF", "XCD", "CLF", "DEM"],
)
def test_currencies_pass_the_non_currency_rule(record, run_rule, code) -> None:
    record["price_currency"] = code
    assert run_rule("RR-CCY-003", record) == []


@pytest.mark.parametrize(
    "field",
    ["quantity_currency", "strike_currency", "notional_currency", "upfront_payment_currency"],
)
def test_non_currency_rule_covers_every_currency_field(record, run_rule, field) -> None:
    record[field] = "XAU"
    assert [(f.code, f.field) for f in run_rule("RR-CCY-003", record)] == [("RR-CCY-003", field)]


def test_non_currency_codes_come_from_the_csv(ctx) -> None:
    from regreport.rules.currency import non_currency_codes

    codes = non_currency_codes(ctx.refdata.refdata_dir)
    assert {"XXX", "XTS", "XAU", "XDR", "XBA"} <= codes
    assert codes.isdisjoint({"EUR", "XOF", "XAF", "XPF", "XCD", "CLF", "USN"})


@pytest.mark.parametrize(
    ("price_type", "price_currency", "instrument_currency", "ok"),
    [
        ("MNTRY", "EUR", "EUR", True),
        ("MNTRY", "USD", "EUR", False),
        ("MNTRY", "USD", "", True),  # blank counts as unknown
        (None, "USD", "EUR", False),  # no price type reads as monetary
        ("MNTRY", "USD", None, True),  # instrument currency unknown: cannot tell
        ("PNDG", "USD", "EUR", True),  # no price: NoPric/Ccy is optional and not judged
    ],
)
def test_price_currency_is_the_instrument_currency(
    record, run_rule, price_type, price_currency, instrument_currency, ok
) -> None:
    record.update(
        price_type=price_type,
        price_currency=price_currency,
        instrument_currency=instrument_currency,
    )
    assert [(f.code, f.field) for f in run_rule("RR-CCY-004", record)] == (
        [] if ok else [("RR-CCY-004", "price_currency")]
    )


def test_instrument_currency_rule_passes_without_the_column(record, run_rule) -> None:
    # A file validated on its own has no instrument_currency: the rule cannot be evaluated.
    record["price_currency"] = "USD"
    assert "instrument_currency" not in record
    assert run_rule("RR-CCY-004", record) == []
