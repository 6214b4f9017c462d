"""RR-DEC-001..005: client decision makers (fields 12-15, 21-24) and fields 57-60."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.unit

FIRM_LEI = "529900T8BM49AURSDO55"
POA_LEI = "5493001KJTIIGC8Y1R12"


def _codes(found):
    return [(f.code, f.field) for f in found]


def _poa_person(record) -> None:
    # Hand-built CONCAT: DE + 19700412 + HANNA + SCHMI.
    record.update(
        seller_decision_maker_type="PERSON",
        seller_decision_maker_id="DE19700412HANNASCHMI",
        seller_decision_maker_scheme="CONCAT",
        seller_decision_maker_first_name="Hanna",
        seller_decision_maker_surname="Schmidt",
        seller_decision_maker_birth_date=date(1970, 4, 12),
    )


def test_no_decision_maker_passes(record, run_rule) -> None:
    for code in ("RR-DEC-001", "RR-DEC-002", "RR-DEC-004"):
        assert run_rule(code, record) == []


def test_person_decision_maker_passes(record, run_rule) -> None:
    _poa_person(record)
    assert run_rule("RR-DEC-001", record) == []
    assert run_rule("RR-DEC-002", record) == []
    assert run_rule("RR-PRS-002", record) == []  # the CONCAT above is built correctly


def test_lei_decision_maker_passes(record, run_rule) -> None:
    record.update(seller_decision_maker_type="LEI", seller_decision_maker_id=POA_LEI)
    assert run_rule("RR-DEC-001", record) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seller_decision_maker_id": "X1"}, "seller_decision_maker_id"),  # no type
        ({"seller_decision_maker_type": "MIC"}, "seller_decision_maker_type"),
        (
            {"seller_decision_maker_type": "LEI", "seller_decision_maker_id": None},
            "seller_decision_maker_id",
        ),
        (
            {
                "seller_decision_maker_type": "LEI",
                "seller_decision_maker_id": POA_LEI,
                "seller_decision_maker_surname": "Schmidt",
            },
            "seller_decision_maker_surname",
        ),
        (
            {
                "seller_decision_maker_type": "PERSON",
                "seller_decision_maker_id": "DE123",
            },
            "seller_decision_maker_scheme",
        ),
    ],
)
def test_decision_maker_fields_must_fit_type(record, run_rule, change, field) -> None:
    record.update(change)
    assert _codes(run_rule("RR-DEC-001", record)) == [("RR-DEC-001", field)]


@pytest.mark.parametrize(
    "buyer",
    [
        {"buyer_id_type": "LEI"},  # the baseline buyer is the executing firm itself
        {"buyer_id_type": "MIC", "buyer_id": "XPAR"},
        {"buyer_id_type": "INTC", "buyer_id": None},
    ],
)
def test_decision_maker_only_for_a_client(record, run_rule, buyer) -> None:
    record.update(buyer, buyer_decision_maker_type="LEI", buyer_decision_maker_id=POA_LEI)
    assert _codes(run_rule("RR-DEC-002", record)) == [("RR-DEC-002", "buyer_decision_maker_type")]


def test_discretionary_mandate_needs_field_57(record, run_rule) -> None:
    record.update(
        seller_decision_maker_type="LEI",
        seller_decision_maker_id=FIRM_LEI,
        investment_decision_type="PERSON",
        investment_decision_id="FR19750101PIERRMARTI",
        investment_decision_scheme="CONCAT",
        investment_decision_branch_country="FR",
    )
    assert run_rule("RR-DEC-004", record) == []
    record.update(
        investment_decision_type=None,
        investment_decision_id=None,
        investment_decision_scheme=None,
        investment_decision_branch_country=None,
    )
    assert _codes(run_rule("RR-DEC-004", record)) == [("RR-DEC-004", "investment_decision_type")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"investment_decision_type": "CLIENT"}, "investment_decision_type"),
        ({"investment_decision_id": "algo-1"}, "investment_decision_id"),  # lower case
        ({"investment_decision_scheme": "NIDN"}, "investment_decision_scheme"),
        (
            {"investment_decision_type": None, "investment_decision_id": None},
            None,
        ),
        (
            {"investment_decision_type": "PERSON", "investment_decision_scheme": "NIDN"},
            "investment_decision_branch_country",
        ),
    ],
)
def test_investment_decision_fits_type(record, run_rule, change, field) -> None:
    assert run_rule("RR-DEC-003", record) == []
    record.update(change)
    expected = [] if field is None else [("RR-DEC-003", field)]
    assert _codes(run_rule("RR-DEC-003", record)) == expected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"executing_person_type": None}, "executing_person_type"),
        ({"executing_person_type": "LEI"}, "executing_person_type"),
        ({"executing_person_branch_country": "FR"}, "executing_person_branch_country"),
        (
            {"executing_person_type": "PERSON", "executing_person_scheme": "NIDN"},
            "executing_person_branch_country",
        ),
        ({"executing_person_type": "CLIENT", "executing_person_scheme": "NIDN"}, None),
    ],
)
def test_execution_fits_type(record, run_rule, change, field) -> None:
    assert run_rule("RR-DEC-005", record) == []
    record.update(change)
    found = _codes(run_rule("RR-DEC-005", record))
    if field is None:  # CLIENT with a scheme
        assert found == [("RR-DEC-005", "executing_person_scheme")]
    else:
        assert found == [("RR-DEC-005", field)]


def test_client_executes_passes(record, run_rule) -> None:
    record.update(executing_person_type="CLIENT", executing_person_id=None)
    assert run_rule("RR-DEC-005", record) == []
