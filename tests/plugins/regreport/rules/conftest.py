"""Fixtures for the rule tests: a valid baseline record and a context on the shared refdata."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from regreport.config import Settings
from regreport.identifiers import isin_with_check_digit
from regreport.rules import Finding, RuleContext, implementations
from regreport.rules._registry import CURRENCY_CSV, MIC_CSV

FIRM_LEI = "529900T8BM49AURSDO55"
CLIENT_LEI = "5493001KJTIIGC8Y1R12"
#: Hand-built: FR + 19800101 + JEAN# (4 letters, padded) + DUPON.
SELLER_CONCAT = "FR19800101JEAN#DUPON"
PERIOD = (date(2026, 3, 2), date(2026, 3, 3))
#: Check digits computed, not typed: a French government bond and a Eurex-style option.
BOND_ISIN = isin_with_check_digit("FR001400H7V")
OPTION_ISIN = isin_with_check_digit("DE000C7ZQ1A")
SHARE_ISIN = "US0378331005"

RunRule = Callable[[str, Mapping[str, Any]], list[Finding]]


@pytest.fixture(scope="session")
def ctx(settings: Settings) -> RuleContext:
    """A one-day reporting period with reference data from `Settings.refdata_dir`."""
    for relative in (MIC_CSV, CURRENCY_CSV):
        path = settings.refdata_dir / relative
        if not path.is_file():
            pytest.fail(
                f"reference data {path} is missing: the rule tests need shared/refdata beside the "
                "repository, or REGREPORT_REFDATA_DIR pointing at a copy"
            )
    return RuleContext.for_period(*PERIOD, settings.refdata_dir)


@pytest.fixture
def record() -> dict[str, Any]:
    """A record that passes every rule: the firm deals on own account with a French client."""
    return {
        "tx_id": "QS1",
        "execution_id": 1,
        "trading_date": date(2026, 3, 2),
        "executing_entity_lei": FIRM_LEI,
        "investment_firm_ind": True,
        "submitting_entity_lei": FIRM_LEI,
        "buyer_id_type": "LEI",
        "buyer_id": FIRM_LEI,
        "buyer_id_scheme": None,
        "buyer_first_name": None,
        "buyer_surname": None,
        "buyer_birth_date": None,
        "buyer_branch_country": None,
        "seller_id_type": "PERSON",
        "seller_id": SELLER_CONCAT,
        "seller_id_scheme": "CONCAT",
        "seller_first_name": "Jean",
        "seller_surname": "Dupont",
        "seller_birth_date": date(1980, 1, 1),
        "seller_branch_country": "FR",
        "transmission_ind": False,
        "trading_datetime": datetime(2026, 3, 2, 10, 15, 30, 123000, tzinfo=UTC),
        "trading_capacity": "DEAL",
        "quantity": Decimal("100.0000"),
        "price": Decimal("187.250000"),
        "price_currency": "EUR",
        "venue": "XPAR",
        "venue_transaction_id": "XP123",
        "instrument_isin": SHARE_ISIN,
        "buyer2_id": None,
        "buyer2_id_scheme": None,
        "buyer2_first_name": None,
        "buyer2_surname": None,
        "buyer2_birth_date": None,
        "buyer_decision_maker_type": None,
        "buyer_decision_maker_id": None,
        "buyer_decision_maker_scheme": None,
        "buyer_decision_maker_first_name": None,
        "buyer_decision_maker_surname": None,
        "buyer_decision_maker_birth_date": None,
        "seller2_id": None,
        "seller2_id_scheme": None,
        "seller2_first_name": None,
        "seller2_surname": None,
        "seller2_birth_date": None,
        "seller_decision_maker_type": None,
        "seller_decision_maker_id": None,
        "seller_decision_maker_scheme": None,
        "seller_decision_maker_first_name": None,
        "seller_decision_maker_surname": None,
        "seller_decision_maker_birth_date": None,
        "transmitting_firm_buyer_lei": None,
        "transmitting_firm_seller_lei": None,
        "record_type": "NEWT",
        "instrument_type": "SHARE",
        "instrument_in_firds": True,
        "quantity_type": "UNIT",
        "quantity_currency": None,
        "deriv_notional_change": None,
        "price_type": "MNTRY",
        "net_amount": None,
        "country_of_branch": None,
        "upfront_payment": None,
        "upfront_payment_currency": None,
        "complex_trade_id": None,
        "instrument_full_name": None,
        "instrument_cfi": None,
        "notional_currency": None,
        "notional_currency_2": None,
        "price_multiplier": None,
        "underlying_isin": None,
        "underlying_index_name": None,
        "underlying_index_term_unit": None,
        "underlying_index_term_value": None,
        "option_type": None,
        "strike_price": None,
        "strike_currency": None,
        "exercise_style": None,
        "maturity_date": None,
        "expiry_date": None,
        "delivery_type": None,
        "waiver_ind": None,
        "short_selling_ind": None,
        "otc_post_trade_ind": None,
        "commodity_derivative_ind": None,
        "executing_person_type": "ALGO",
        "executing_person_id": "ALGO1",
        "executing_person_scheme": None,
        "executing_person_branch_country": None,
        "investment_decision_type": "ALGO",
        "investment_decision_id": "ALGO1",
        "investment_decision_scheme": None,
        "investment_decision_branch_country": None,
        "securities_financing_ind": False,
        "extract_run_id": "run-1",
    }


@pytest.fixture
def bond(record: dict[str, Any]) -> dict[str, Any]:
    """The baseline turned into a bond in FIRDS: nominal quantity, percentage price, net amount.

    Net amount = 100000 nominal x 99.5 % / 100 + 0 accrued interest = 99500.00.
    """
    record.update(
        instrument_type="BOND",
        instrument_isin=BOND_ISIN,
        quantity_type="NMNL",
        quantity=Decimal("100000"),
        quantity_currency="EUR",
        price_type="PCTG",
        price=Decimal("99.5"),
        price_currency=None,
        net_amount=Decimal("99500.00"),
        maturity_date=date(2033, 5, 25),
    )
    return record


@pytest.fixture
def option(record: dict[str, Any]) -> dict[str, Any]:
    """The baseline turned into an exchange-traded call option that is not in FIRDS."""
    record.update(
        instrument_type="OPTION",
        instrument_isin=OPTION_ISIN,
        instrument_in_firds=False,
        instrument_full_name="APPLE CALL 200 JUN26",
        instrument_cfi="OCASPS",
        quantity=Decimal("10"),
        price=Decimal("4.25"),
        option_type="CALL",
        strike_price=Decimal("200"),
        strike_currency="EUR",
        exercise_style="EURO",
        expiry_date=date(2026, 6, 19),
        underlying_isin=SHARE_ISIN,
        price_multiplier=Decimal("100"),
        delivery_type="PHYS",
    )
    return record


@pytest.fixture
def run_rule(ctx: RuleContext) -> RunRule:
    """Run one registered rule on a record and return its findings."""

    def run(code: str, rec: Mapping[str, Any]) -> list[Finding]:
        return list(implementations()[code](rec, ctx))

    return run
