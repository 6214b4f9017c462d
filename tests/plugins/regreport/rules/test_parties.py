"""RR-PTY-001..005: buyer and seller differ, party fields fit their type, country codes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_different_parties_pass(record, run_rule) -> None:
    assert run_rule("RR-PTY-001", record) == []


@pytest.mark.parametrize("seller", ["529900T8BM49AURSDO55", " 529900t8bm49aursdo55 "])
def test_same_party_fails(record, run_rule, seller) -> None:
    record.update(seller_id_type="LEI", seller_id=seller)
    assert [(f.code, f.field) for f in run_rule("RR-PTY-001", record)] == [
        ("RR-PTY-001", "seller_id")
    ]


def test_both_intc_fails(record, run_rule) -> None:
    record.update(buyer_id_type="INTC", buyer_id="INTC", seller_id_type="INTC", seller_id="INTC")
    assert [f.code for f in run_rule("RR-PTY-001", record)] == ["RR-PTY-001"]


def _codes(found):
    return [(f.code, f.field) for f in found]


def test_joint_holder_on_both_sides_fails(record, run_rule) -> None:
    record.update(buyer2_id="FR19900101ANNE#MOREL", seller2_id="FR19900101ANNE#MOREL")
    assert _codes(run_rule("RR-PTY-001", record)) == [("RR-PTY-001", "seller2_id")]


def test_intc_on_both_sides_fails_with_null_ids(record, run_rule) -> None:
    record.update(buyer_id_type="INTC", buyer_id=None, seller_id_type="INTC", seller_id=None)
    assert _codes(run_rule("RR-PTY-001", record)) == [("RR-PTY-001", "seller_id")]


@pytest.mark.parametrize(
    ("venue", "mic", "ok"),
    [("XPAR", "XPAR", True), ("XPAR", "XETR", False), ("XOFF", "XOFF", False)],
)
def test_mic_party_is_the_venue(record, run_rule, venue, mic, ok) -> None:
    record.update(venue=venue, buyer_id_type="MIC", buyer_id=mic)
    assert _codes(run_rule("RR-PTY-002", record)) == ([] if ok else [("RR-PTY-002", "buyer_id")])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"buyer_id_type": "BIC"}, "buyer_id_type"),
        ({"buyer_id": None}, "buyer_id"),
        ({"buyer_id_type": "INTC"}, "buyer_id"),  # INTC carries no id
        ({"buyer_surname": "Dupont"}, "buyer_surname"),  # names only for PERSON
        ({"buyer_id_scheme": "NIDN"}, "buyer_id_scheme"),
    ],
)
def test_party_fields_fit_type(record, run_rule, change, field) -> None:
    assert run_rule("RR-PTY-003", record) == []
    record.update(change)
    assert _codes(run_rule("RR-PTY-003", record)) == [("RR-PTY-003", field)]


def test_intc_without_id_passes(record, run_rule) -> None:
    record.update(buyer_id_type="INTC", buyer_id=None)
    assert run_rule("RR-PTY-003", record) == []


@pytest.mark.parametrize(
    "field",
    [
        "buyer_branch_country",
        "seller_branch_country",
        "country_of_branch",
        "investment_decision_branch_country",
        "executing_person_branch_country",
    ],
)
def test_country_code_form(record, run_rule, field) -> None:
    record[field] = "DE"
    assert run_rule("RR-PTY-004", record) == []
    record[field] = "DEU"
    assert _codes(run_rule("RR-PTY-004", record)) == [("RR-PTY-004", field)]


@pytest.mark.parametrize(
    "field",
    [
        "buyer_branch_country",
        "seller_branch_country",
        "country_of_branch",
        "investment_decision_branch_country",
        "executing_person_branch_country",
    ],
)
@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("DE", True),
        ("GR", True),
        ("GB", True),
        ("XK", True),  # Kosovo: user-assigned, used by the EU
        ("UK", False),  # the common mistake for GB: two capitals, not ISO 3166-1
        ("EL", False),  # the EU's code for Greece, not ISO 3166-1 (GR)
        ("EU", False),
        ("ZZ", False),
        ("DEU", True),  # wrong form: RR-PTY-004's finding, not this rule's
    ],
)
def test_country_code_assigned(record, run_rule, field, code, ok) -> None:
    record[field] = code
    assert _codes(run_rule("RR-PTY-005", record)) == ([] if ok else [("RR-PTY-005", field)])
