"""RR-VAL rules on quantity, price and amounts (fields 30-35, 46, 51-52)."""

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


@pytest.mark.parametrize(
    ("instrument_type", "price_type", "price", "code"),
    [
        ("SHARE", "MNTRY", "187.25", None),
        ("SHARE", "MNTRY", "0", "RR-VAL-016"),
        ("SHARE", "MNTRY", "-0.75", "RR-VAL-016"),
        ("ETF", "MNTRY", "0", "RR-VAL-016"),
        ("BOND", "PCTG", "0", "RR-VAL-016"),
        ("BOND", "PCTG", "-1.5", "RR-VAL-016"),
        ("OPTION", "MNTRY", "0", "RR-VAL-016"),  # an option premium
        ("OPTION", "MNTRY", "0.01", None),
        ("FUTURE", "MNTRY", "-37.63", "RR-VAL-004"),  # WTI May 2020, a real negative settlement
        ("FUTURE", "MNTRY", "0", "RR-VAL-004"),
        ("FUTURE", "MNTRY", "101.5", None),
        ("SWAP", "MNTRY", "-1", "RR-VAL-004"),  # unknown type: RR-INS-001 blocks it anyway
        ("BOND", "YLD", "-0.25", None),  # negative yields happen
        ("BOND", "BSISPTS", "-12", None),  # so do negative spreads
        ("SHARE", None, "-1", "RR-VAL-016"),  # no price type reads as monetary
    ],
)
def test_price_sign_per_instrument_and_notation(
    record, run_rule, instrument_type, price_type, price, code
) -> None:
    record.update(instrument_type=instrument_type, price_type=price_type, price=Decimal(price))
    found = run_rule("RR-VAL-004", record) + run_rule("RR-VAL-016", record)
    assert [(f.code, f.field) for f in found] == ([] if code is None else [(code, "price")])
    # The warning never blocks; the forbidden cases always do.
    assert all(f.blocking == (f.code == "RR-VAL-016") for f in found)


def _codes(found):
    return [(f.code, f.field) for f in found]


@pytest.mark.parametrize(
    ("qty", "fits"),
    [
        ("100000.12345", True),  # 5 decimals
        ("100000.123456", False),  # 6 decimals
        ("1234567890123.12345", True),  # 18 digits
        ("12345678901234.12345", False),  # 19 digits
    ],
)
def test_nominal_quantity_precision(bond, run_rule, qty, fits) -> None:
    bond["quantity"] = Decimal(qty)
    assert _codes(run_rule("RR-VAL-005", bond)) == ([] if fits else [("RR-VAL-005", "quantity")])


def test_unit_quantity_not_held_to_five_decimals(record, run_rule) -> None:
    record["quantity"] = Decimal("0.123456")
    assert run_rule("RR-VAL-005", record) == []


@pytest.mark.parametrize(
    ("price_type", "price", "fits"),
    [
        ("PCTG", "99.5", True),
        ("PCTG", "0.1234567891", True),  # 10 decimals, 10 digits
        ("PCTG", "0.12345678901", False),  # 11 decimals
        ("YLD", "123.123456789", False),  # 12 digits in total
        ("BSISPTS", "1.12345678901234567", True),  # 17 decimals, 18 digits
        ("BSISPTS", "1.123456789012345678", False),  # 18 decimals
    ],
)
def test_rate_price_precision(bond, run_rule, price_type, price, fits) -> None:
    bond.update(price_type=price_type, price=Decimal(price))
    assert _codes(run_rule("RR-VAL-006", bond)) == ([] if fits else [("RR-VAL-006", "price")])
    assert run_rule("RR-VAL-003", bond) == []  # the monetary limits do not apply


@pytest.mark.parametrize(
    ("field", "code"), [("price_type", "RR-VAL-007"), ("quantity_type", "RR-VAL-008")]
)
def test_notation_codes(record, run_rule, field, code) -> None:
    assert run_rule(code, record) == []
    record[field] = "PERC"
    assert _codes(run_rule(code, record)) == [(code, field)]
    record[field] = None
    assert _codes(run_rule(code, record)) == [(code, field)]


@pytest.mark.parametrize(
    ("price_type", "price", "ok"),
    [
        ("MNTRY", Decimal("1"), True),
        ("MNTRY", None, False),
        ("PCTG", None, False),
        ("PNDG", None, True),
        ("NOAP", None, True),
        ("PNDG", Decimal("1"), False),
    ],
)
def test_price_presence_follows_type(record, run_rule, price_type, price, ok) -> None:
    record.update(price_type=price_type, price=price)
    assert _codes(run_rule("RR-VAL-009", record)) == ([] if ok else [("RR-VAL-009", "price")])


@pytest.mark.parametrize(
    ("price_type", "currency", "ok"),
    [
        ("MNTRY", "EUR", True),
        ("MNTRY", None, False),
        ("PCTG", None, True),
        ("PCTG", "EUR", False),
        ("PNDG", "EUR", True),  # NoPric/Ccy is optional
        ("NOAP", None, True),
    ],
)
def test_price_currency_follows_type(record, run_rule, price_type, currency, ok) -> None:
    record.update(price_type=price_type, price_currency=currency)
    assert _codes(run_rule("RR-VAL-010", record)) == (
        [] if ok else [("RR-VAL-010", "price_currency")]
    )


@pytest.mark.parametrize(
    ("quantity_type", "currency", "ok"),
    [("UNIT", None, True), ("UNIT", "EUR", False), ("NMNL", "EUR", True), ("NMNL", None, False)],
)
def test_quantity_currency_follows_type(record, run_rule, quantity_type, currency, ok) -> None:
    record.update(quantity_type=quantity_type, quantity_currency=currency)
    assert _codes(run_rule("RR-VAL-011", record)) == (
        [] if ok else [("RR-VAL-011", "quantity_currency")]
    )


@pytest.mark.parametrize(
    ("amount", "ok"),
    [("99500.00", True), ("99500.125", False), ("-1.00", False), ("1234567890123456.78", True)],
)
def test_net_amount_format(bond, run_rule, amount, ok) -> None:
    bond["net_amount"] = Decimal(amount)
    assert _codes(run_rule("RR-VAL-012", bond)) == ([] if ok else [("RR-VAL-012", "net_amount")])


@pytest.mark.parametrize(
    ("field", "code", "value", "ok"),
    [
        ("strike_price", "RR-VAL-013", "200", True),
        ("strike_price", "RR-VAL-013", "0.1234567890123", True),  # 13 decimals
        ("strike_price", "RR-VAL-013", "0.12345678901234", False),  # 14 decimals
        ("strike_price", "RR-VAL-013", "-5", False),
        ("price_multiplier", "RR-VAL-014", "100", True),
        ("price_multiplier", "RR-VAL-014", "0", False),
        ("price_multiplier", "RR-VAL-014", "-1", False),
        ("price_multiplier", "RR-VAL-014", "1234567890123456789", False),  # 19 digits
    ],
)
def test_derivative_amounts(option, run_rule, field, code, value, ok) -> None:
    option[field] = Decimal(value)
    assert _codes(run_rule(code, option)) == ([] if ok else [(code, field)])


def test_strike_currency_goes_with_strike(option, run_rule) -> None:
    assert run_rule("RR-VAL-015", option) == []
    option["strike_currency"] = None
    assert _codes(run_rule("RR-VAL-015", option)) == [("RR-VAL-015", "strike_currency")]
    option.update(strike_price=None, strike_currency="EUR")
    assert _codes(run_rule("RR-VAL-015", option)) == [("RR-VAL-015", "strike_currency")]


def test_bond_net_amount_matches_quantity_and_price(bond, run_rule) -> None:
    # 100000 nominal x 99.5 % = 100000 x 0.995 = 99500.00, plus accrued interest 1234.56:
    # 99500.00 + 1234.56 = 100734.56.
    bond.update(net_amount=Decimal("100734.56"), accrued_interest=Decimal("1234.56"))
    assert run_rule("RR-VAL-017", bond) == []
    # Tolerance 0.01 + 100000 x 0.01 x 1e-6 + 99.5 x 0.01 x 1e-4 = 0.0111 (rounded): one cent off
    # passes, two cents off do not.
    bond["net_amount"] = Decimal("100734.57")
    assert run_rule("RR-VAL-017", bond) == []
    bond["net_amount"] = Decimal("100734.58")
    assert _codes(run_rule("RR-VAL-017", bond)) == [("RR-VAL-017", "net_amount")]


def test_net_amount_without_accrued_interest_is_wrong_when_interest_accrued(bond, run_rule) -> None:
    # The conftest bond: 99500.00 is qty x price alone; with 1234.56 accrued it should be more.
    bond["accrued_interest"] = Decimal("1234.56")
    assert _codes(run_rule("RR-VAL-017", bond)) == [("RR-VAL-017", "net_amount")]
    bond["accrued_interest"] = None  # NULL: no accrued interest, 99500.00 is right
    assert run_rule("RR-VAL-017", bond) == []


def test_net_amount_uses_monetary_price_and_multiplier(record, run_rule) -> None:
    # 3 units x 187.25 x multiplier 10 = 5617.50; no accrued interest.
    record.update(
        net_amount=Decimal("5617.50"),
        quantity=Decimal(3),
        price=Decimal("187.25"),
        price_multiplier=Decimal(10),
        accrued_interest=Decimal(0),
    )
    assert run_rule("RR-VAL-017", record) == []
    record["net_amount"] = Decimal("561.75")  # the multiplier forgotten
    assert _codes(run_rule("RR-VAL-017", record)) == [("RR-VAL-017", "net_amount")]


@pytest.mark.parametrize(
    "change",
    [
        {},  # no accrued_interest column: a file validated on its own
        {"accrued_interest": 0, "net_amount": None},
        {"accrued_interest": 0, "price": None},
        {"accrued_interest": 0, "quantity": "abc"},
        {"accrued_interest": 0, "price_type": "YLD"},
    ],
)
def test_net_amount_check_passes_when_it_cannot_be_evaluated(bond, run_rule, change) -> None:
    bond["net_amount"] = Decimal("1.00")  # far from 99500.00, were it checked
    bond.pop("accrued_interest", None)
    bond.update(change)
    assert run_rule("RR-VAL-017", bond) == []


@pytest.mark.parametrize(
    ("instrument_type", "quantity_type", "quantity", "ok"),
    [
        ("SHARE", "UNIT", "100.0000", True),  # trailing zeros of numeric(18,4)
        ("SHARE", "UNIT", "100.5", False),
        ("ETF", "UNIT", "0.25", False),
        ("OPTION", "UNIT", "10", True),
        ("OPTION", "UNIT", "10.1", False),
        ("FUTURE", "UNIT", "1.0001", False),
        ("BOND", "NMNL", "100000.5", True),  # nominal: RR-VAL-005's 5 decimals apply
        ("SHARE", "NMNL", "10.5", True),  # wrong notation: RR-INS-004's finding
        ("SHARE", "UNIT", "abc", True),  # not a number: RR-VAL-001's finding
    ],
)
def test_whole_units(record, run_rule, instrument_type, quantity_type, quantity, ok) -> None:
    record.update(instrument_type=instrument_type, quantity_type=quantity_type, quantity=quantity)
    assert _codes(run_rule("RR-VAL-018", record)) == ([] if ok else [("RR-VAL-018", "quantity")])
