"""RR-LEI-001/002 on entity and LEI-typed party fields."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

FIRM_LEI = "529900T8BM49AURSDO55"
CLIENT_LEI = "5493001KJTIIGC8Y1R12"


@pytest.mark.parametrize("field", ["executing_entity_lei", "submitting_entity_lei", "buyer_id"])
def test_valid_lei_passes(record, run_rule, field) -> None:
    record[field] = CLIENT_LEI
    assert run_rule("RR-LEI-001", record) == []
    assert run_rule("RR-LEI-002", record) == []


@pytest.mark.parametrize(
    "bad", ["529900T8BM49AURSDO5", "529900t8bm49aursdo55", "529900T8BM49AURSDOAB", ""]
)
def test_bad_format_is_lei_001_only(record, run_rule, bad) -> None:
    record["submitting_entity_lei"] = bad
    assert [(f.code, f.field) for f in run_rule("RR-LEI-001", record)] == [
        ("RR-LEI-001", "submitting_entity_lei")
    ]
    assert run_rule("RR-LEI-002", record) == []


@pytest.mark.parametrize(
    "bad", ["529900T8BM49AURSDO56", "529900T8BM49AURSDO45", "529900T8BM49AURSDP55"]
)
def test_wrong_check_digits_fail(record, run_rule, bad) -> None:
    record["executing_entity_lei"] = bad
    assert [(f.code, f.field) for f in run_rule("RR-LEI-002", record)] == [
        ("RR-LEI-002", "executing_entity_lei")
    ]
    assert run_rule("RR-LEI-001", record) == []


def test_party_checked_only_when_lei_typed(record, run_rule) -> None:
    record["seller_id_type"] = "LEI"
    record["seller_id"] = FIRM_LEI[:-1] + "6"
    assert [f.field for f in run_rule("RR-LEI-002", record)] == ["seller_id"]
    record["seller_id_type"] = "PERSON"
    assert run_rule("RR-LEI-002", record) == []


@pytest.mark.parametrize("field", ["transmitting_firm_buyer_lei", "transmitting_firm_seller_lei"])
def test_transmitting_firm_lei_checked_when_present(record, run_rule, field) -> None:
    record[field] = CLIENT_LEI
    assert run_rule("RR-LEI-002", record) == []
    record[field] = CLIENT_LEI[:-1] + "3"
    assert [(f.code, f.field) for f in run_rule("RR-LEI-002", record)] == [("RR-LEI-002", field)]
    record[field] = "NOT-AN-LEI"
    assert [(f.code, f.field) for f in run_rule("RR-LEI-001", record)] == [("RR-LEI-001", field)]


def test_decision_maker_lei_checked_when_lei_typed(record, run_rule) -> None:
    record.update(seller_decision_maker_type="LEI", seller_decision_maker_id=CLIENT_LEI)
    assert run_rule("RR-LEI-001", record) == []
    record["seller_decision_maker_id"] = CLIENT_LEI[:-2] + "00"
    assert [(f.code, f.field) for f in run_rule("RR-LEI-002", record)] == [
        ("RR-LEI-002", "seller_decision_maker_id")
    ]
    record["seller_decision_maker_type"] = "PERSON"
    assert run_rule("RR-LEI-002", record) == []
