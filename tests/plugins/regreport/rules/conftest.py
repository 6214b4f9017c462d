"""Fixtures for the rule tests: a valid baseline record and a context on the shared refdata."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from regreport.config import Settings
from regreport.rules import Finding, RuleContext, implementations
from regreport.rules._registry import CURRENCY_CSV, MIC_CSV

FIRM_LEI = "529900T8BM49AURSDO55"
CLIENT_LEI = "5493001KJTIIGC8Y1R12"
#: Hand-built: FR + 19800101 + JEAN# (4 letters, padded) + DUPON.
SELLER_CONCAT = "FR19800101JEAN#DUPON"
PERIOD = (date(2026, 3, 2), date(2026, 3, 3))

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
        "instrument_isin": "US0378331005",
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
def run_rule(ctx: RuleContext) -> RunRule:
    """Run one registered rule on a record and return its findings."""

    def run(code: str, rec: Mapping[str, Any]) -> list[Finding]:
        return list(implementations()[code](rec, ctx))

    return run
