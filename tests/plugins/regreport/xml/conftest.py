"""Shared records and header for the auth.016 writer and validator tests.

The records cover the main identification branches of the XSD: LEI buyer / MIC seller,
natural-person buyer with CONCAT, algorithm and person executors. The one-record-per-situation
cases (joint accounts, decision makers, bonds, derivatives, cancellations) are the golden files
in golden/.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from regreport.config import Settings
from regreport.xml.render import ReportHeader

FIRM_LEI = "529900T8BM49AURSDO55"
CCP_LEI = "549300O897ZC5H7CY412"
CET = timezone(timedelta(hours=1))


def lei_vs_mic_record() -> dict[str, Any]:
    """LEI buyer, MIC seller, algorithm executes, person decides, negative-free price."""
    return {
        "tx_id": "QS20261126000001",
        "executing_entity_lei": FIRM_LEI,
        "investment_firm_ind": True,
        "submitting_entity_lei": FIRM_LEI,
        "buyer_id_type": "LEI",
        "buyer_id": FIRM_LEI,
        "buyer_branch_country": None,
        "seller_id_type": "MIC",
        "seller_id": "XPAR",
        "transmission_ind": False,
        "trading_datetime": datetime(2026, 11, 26, 9, 0, 0, 123, tzinfo=CET),
        "trading_capacity": "DEAL",
        "quantity": Decimal("100.000000"),
        "price": Decimal("101.2500"),
        "price_currency": "EUR",
        "venue": "XPAR",
        "venue_transaction_id": "XPAR123456789",
        "country_of_branch": None,
        "instrument_isin": "FR0000120271",
        "executing_person_type": "ALGO",
        "executing_person_id": "ALGO42",
        "investment_decision_type": "PERSON",
        "investment_decision_id": "FR19800101JEAN#DUPON",
        "investment_decision_scheme": "CONCAT",
        "investment_decision_branch_country": "FR",
        "short_selling_ind": None,
        "securities_financing_ind": False,
    }


def person_vs_lei_record() -> dict[str, Any]:
    """Natural-person buyer (CONCAT), LEI seller, person executes with a national id."""
    return {
        "tx_id": "QS20261126000002",
        "executing_entity_lei": FIRM_LEI,
        "investment_firm_ind": True,
        "submitting_entity_lei": FIRM_LEI,
        "buyer_id_type": "PERSON",
        "buyer_id": "FR19850317MARIEMARTI",
        "buyer_id_scheme": "CONCAT",
        "buyer_first_name": "MARIE",
        "buyer_surname": "MARTIN",
        "buyer_birth_date": date(1985, 3, 17),
        "buyer_branch_country": "FR",
        "seller_id_type": "LEI",
        "seller_id": CCP_LEI,
        "seller_branch_country": "DE",
        "transmission_ind": True,
        "trading_datetime": datetime(2026, 11, 26, 14, 30, 5, tzinfo=UTC),
        "trading_capacity": "AOTC",
        "quantity": Decimal("2500"),
        "price": Decimal("-0.0012500"),
        "price_currency": "EUR",
        "venue": "XOFF",
        "country_of_branch": "FR",
        "instrument_isin": "DE0007164600",
        "executing_person_type": "PERSON",
        "executing_person_id": "FR1234567890",
        "executing_person_scheme": "NIDN",
        "executing_person_branch_country": "FR",
        "investment_decision_type": None,
        "short_selling_ind": "SELL",
        "securities_financing_ind": True,
    }


def intc_vs_person_record() -> dict[str, Any]:
    """Internal (INTC) buyer, NIDN person seller with XML-special characters, client executor."""
    record = lei_vs_mic_record()
    record.update(
        tx_id="QS20261126000003",
        buyer_id_type="INTC",
        buyer_id=None,
        seller_id_type="PERSON",
        seller_id="FR1234567890123",
        seller_id_scheme="NIDN",
        seller_first_name="ÉLODIE & CO <TEST>",
        seller_surname="D'ARTAGNAN",
        seller_birth_date=date(1990, 12, 31),
        executing_person_type="CLIENT",
        investment_decision_type="ALGO",
        investment_decision_id="DECIDER7",
        quantity=Decimal("0.00000000000000001"),
        price=Decimal("12345.1234567890123"),
        short_selling_ind="UNDI",
    )
    return record


@pytest.fixture
def firm_lei() -> str:
    return FIRM_LEI


@pytest.fixture
def lei_vs_mic() -> dict[str, Any]:
    return lei_vs_mic_record()


@pytest.fixture
def person_vs_lei() -> dict[str, Any]:
    return person_vs_lei_record()


@pytest.fixture
def records() -> list[dict[str, Any]]:
    """The two records of the golden file."""
    return [lei_vs_mic_record(), person_vs_lei_record()]


@pytest.fixture
def record_variants() -> list[dict[str, Any]]:
    """The golden pair plus the branches the pair leaves out (INTC, client executor)."""
    return [lei_vs_mic_record(), person_vs_lei_record(), intc_vs_person_record()]


@pytest.fixture
def header() -> ReportHeader:
    return ReportHeader(
        from_lei=FIRM_LEI,
        to_country="FR",
        # The id format of the file tests/fixtures/mifir/auth016_two_records.xml, written
        # before make_business_message_id added the part; kept literal so the fixture holds.
        business_message_id="MIFIR_RTS22-20261126-20261127-001",
        created_at=datetime(2026, 11, 27, 0, 0, tzinfo=UTC),
    )


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    """The ESMA XSDs, from configuration; a missing folder fails loudly in load_schema."""
    return Settings.from_env().schemas_dir
