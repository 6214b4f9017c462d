"""RR-VAL-001..004 on quantity and price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from regreport.rules.values import digits

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100.0000", (3, 0)),
        ("0.05", (2, 2)),
        ("123.45", (5, 2)),
        ("1E+3", (4, 0)),
        ("0", (1, 0)),
    ],
)
def test_digits_counts_like_xsd(value, expected) -> None:
    assert digits(Decimal(value)) == expected


@pytest.mark.parametrize("qty", [Decimal("100.0000"), 1, "0.5", 1.25])
def test_positive_quantity_passes(record, run_rule, qty) -> None:
    record["quantity"] = qty
    assert run_rule("RR-VAL-001", record) == []


@pytest.mark.parametrize("qty", [0, Decimal("-1"), "abc", None, "NaN"])
def test_non_positive_quantity_fails(record, run_rule, qty) -> None:
    record["quantity"] = qty
    assert [(f.code, f.field) for f in run_rule("RR-VAL-001", record)] == [
        ("RR-VAL-001", "quantity")
    ]


@pytest.mark.parametrize(
    ("qty", "fits"),
    [
        ("123456789012345678", True),  # 18 digits
        ("1234567890123456789", False),  # 19 digits
        ("0.12345678901234567", True),  # 17 decimals
        ("0.123456789012345678", False),  # 18 decimals
        ("1.10000000000000000000", True),  # trailing zeros do not count
        ("12345678901.12345678", False),  # 19 digits in total
    ],
)
def test_quantity_precision(record, run_rule, qty, fits) -> None:
    record["quantity"] = Decimal(qty)
    assert [f.code for f in run_rule("RR-VAL-002", record)] == ([] if fits else ["RR-VAL-002"])


@pytest.mark.parametrize(
    ("price", "fits"),
    [
        ("187.250000", True),
        ("0.1234567890123", True),  # 13 decimals
        ("0.12345678901234", False),  # 14 decimals
        ("12345.1234567890123", True),  # 18 digits, 13 decimals
        ("123456.1234567890123", False),  # 19 digits
        ("-5.5", True),
        ("not a price", False),
    ],
)
def test_price_precision(record, run_rule, price, fits) -> None:
    record["price"] = price
    assert [(f.code, f.field) for f in run_rule("RR-VAL-003", record)] == (
        [] if fits else [("RR-VAL-003", "price")]
    )


@pytest.mark.parametrize(("price", "warn"), [("187.25", False), ("0", True), ("-0.75", True)])
def test_price_sign_warning(record, run_rule, price, warn) -> None:
    record["price"] = Decimal(price)
    found = run_rule("RR-VAL-004", record)
    assert [(f.code, f.severity) for f in found] == ([("RR-VAL-004", "warning")] if warn else [])
    assert not any(f.blocking for f in found)
