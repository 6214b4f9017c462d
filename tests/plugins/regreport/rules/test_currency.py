"""RR-CCY-001/002 against the shared ISO 4217 file (DEM withdrawn 2002-03, HRK 2023-01)."""

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
