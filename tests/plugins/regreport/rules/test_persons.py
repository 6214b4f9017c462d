"""RR-PRS-001..007 on natural persons: details, CONCAT, birth date, national ids."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.unit


def _as_buyer_person(record, *, first, surname, born, concat) -> None:
    record.update(
        buyer_id_type="PERSON",
        buyer_id=concat,
        buyer_id_scheme="CONCAT",
        buyer_first_name=first,
        buyer_surname=surname,
        buyer_birth_date=born,
    )


def test_complete_person_passes(record, run_rule) -> None:
    for code in ("RR-PRS-001", "RR-PRS-002", "RR-PRS-003"):
        assert run_rule(code, record) == []


@pytest.mark.parametrize("field", ["seller_first_name", "seller_surname", "seller_birth_date"])
def test_missing_person_detail_fails(record, run_rule, field) -> None:
    record[field] = None if field.endswith("date") else "  "
    assert [(f.code, f.field) for f in run_rule("RR-PRS-001", record)] == [("RR-PRS-001", field)]


def test_details_not_required_for_lei_party(record, run_rule) -> None:
    assert record["buyer_first_name"] is None
    assert run_rule("RR-PRS-001", record) == []


@pytest.mark.parametrize(
    ("first", "surname", "born", "concat"),
    [
        # Only the first first name; "van der" is dropped; 4-letter names are '#'-padded.
        ("Anna Maria", "van der Berg", date(1990, 2, 15), "NL19900215ANNA#BERG#"),
        # Accents stripped, apostrophe prefix "O'" dropped.
        ("José", "O'Neill", date(1975, 12, 31), "IE19751231JOSE#NEILL"),
    ],
)
def test_concat_built_correctly_passes(record, run_rule, first, surname, born, concat) -> None:
    _as_buyer_person(record, first=first, surname=surname, born=born, concat=concat)
    assert run_rule("RR-PRS-002", record) == []


@pytest.mark.parametrize(
    "concat",
    [
        "FR19800101JEAN#DUPOX",  # surname part wrong
        "FR19800102JEAN#DUPON",  # birth date wrong
        "FR19800101JEANPDUPON",  # padding wrong
        "FR123",  # not a CONCAT at all
    ],
)
def test_concat_mismatch_fails(record, run_rule, concat) -> None:
    record["seller_id"] = concat
    assert [(f.code, f.field) for f in run_rule("RR-PRS-002", record)] == [
        ("RR-PRS-002", "seller_id")
    ]


def test_concat_rule_ignores_other_schemes(record, run_rule) -> None:
    record.update(seller_id="FR12345678901", seller_id_scheme="NIDN")
    assert run_rule("RR-PRS-002", record) == []


@pytest.mark.parametrize(
    ("born", "plausible"),
    [
        (date(2026, 3, 2), True),  # born on the trade date: age 0
        (date(1906, 3, 2), True),  # exactly 120 years
        (date(1906, 3, 1), False),  # 120 years and a day
        (date(1900, 1, 1), False),  # the FCA's placeholder year
        (date(2026, 3, 3), False),  # after the trade date
    ],
)
def test_birth_date_plausibility(record, run_rule, born, plausible) -> None:
    record["seller_birth_date"] = born
    found = [(f.code, f.field) for f in run_rule("RR-PRS-003", record)]
    assert found == ([] if plausible else [("RR-PRS-003", "seller_birth_date")])


def test_birth_date_leap_day_boundary(record, run_rule) -> None:
    # Trade on 29 Feb 2020; 1900 is not a leap year, so the oldest plausible is 28 Feb 1900.
    record.update(trading_date=date(2020, 2, 29), seller_birth_date=date(1900, 2, 28))
    assert run_rule("RR-PRS-003", record) == []
    record["seller_birth_date"] = date(1900, 2, 27)
    assert [f.code for f in run_rule("RR-PRS-003", record)] == ["RR-PRS-003"]


def _codes(found):
    return [(f.code, f.field) for f in found]


def _joint_seller(record, **overrides) -> None:
    # Hand-built CONCAT of the second holder: FR + 19820315 + MARIE + DUPON.
    record.update(
        seller2_id="FR19820315MARIEDUPON",
        seller2_id_scheme="CONCAT",
        seller2_first_name="Marie",
        seller2_surname="Dupont",
        seller2_birth_date=date(1982, 3, 15),
    )
    record.update(overrides)


def test_joint_holder_passes_every_person_rule(record, run_rule) -> None:
    _joint_seller(record)
    for code in ("RR-PRS-001", "RR-PRS-002", "RR-PRS-003", "RR-PRS-004", "RR-PRS-005"):
        assert run_rule(code, record) == [], code
    assert run_rule("RR-PRS-006", record) == []


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"seller2_surname": None}, "RR-PRS-001", "seller2_surname"),
        ({"seller2_id": "FR19820315MARIEDUPOX"}, "RR-PRS-002", "seller2_id"),
        ({"seller2_birth_date": date(1899, 12, 31)}, "RR-PRS-003", "seller2_birth_date"),
        ({"seller2_id_scheme": "PASSPORT"}, "RR-PRS-004", "seller2_id_scheme"),
        ({"seller2_id": None}, "RR-PRS-005", "seller2_id"),
        ({"seller2_id": "FR19800101JEAN#DUPON"}, "RR-PRS-006", "seller2_id"),  # = first holder
    ],
)
def test_joint_holder_defects_fail(record, run_rule, overrides, code, field) -> None:
    _joint_seller(record, **overrides)
    assert _codes(run_rule(code, record)) == [(code, field)]


def test_joint_holder_needs_a_natural_person_first_holder(record, run_rule) -> None:
    _joint_seller(record)
    record.update(
        seller_id_type="LEI",
        seller_id="5493001KJTIIGC8Y1R12",
        seller_id_scheme=None,
        seller_first_name=None,
        seller_surname=None,
        seller_birth_date=None,
    )
    assert _codes(run_rule("RR-PRS-006", record)) == [("RR-PRS-006", "seller2_id")]


def test_decision_maker_person_is_checked(record, run_rule) -> None:
    record.update(
        seller_decision_maker_type="PERSON",
        seller_decision_maker_id="DE19700412HANNASCHMI",
        seller_decision_maker_scheme="CONCAT",
        seller_decision_maker_first_name="Hanna",
        seller_decision_maker_surname="Schmidt",
        seller_decision_maker_birth_date=date(1970, 4, 13),  # one day off the CONCAT
    )
    assert _codes(run_rule("RR-PRS-002", record)) == [("RR-PRS-002", "seller_decision_maker_id")]
    record["seller_decision_maker_first_name"] = None
    assert _codes(run_rule("RR-PRS-001", record)) == [
        ("RR-PRS-001", "seller_decision_maker_first_name")
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seller_id_scheme": None}, "seller_id_scheme"),
        ({"seller_id": "fr1234"}, "seller_id"),  # lower case
        ({"seller_id": "1234567"}, "seller_id"),  # no country prefix
        (
            {
                "executing_person_type": "PERSON",
                "executing_person_id": "IT RSSMRA80A01H501U",
                "executing_person_scheme": "NIDN",
            },
            "executing_person_id",
        ),
    ],
)
def test_national_id_form(record, run_rule, change, field) -> None:
    assert run_rule("RR-PRS-004", record) == []
    record.update(change)
    assert _codes(run_rule("RR-PRS-004", record)) == [("RR-PRS-004", field)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seller_id": "UK19800101JEAN#DUPON", "seller_id_scheme": "CONCAT"}, "seller_id"),
        ({"seller_id": "ZZ123456", "seller_id_scheme": "NIDN"}, "seller_id"),
        (
            {
                "executing_person_type": "PERSON",
                "executing_person_id": "QQRSSMRA80A01H501U",
                "executing_person_scheme": "NIDN",
            },
            "executing_person_id",
        ),
        (
            {
                "investment_decision_type": "PERSON",
                "investment_decision_id": "EL123456789",  # the EU's Greece, not ISO 3166-1
                "investment_decision_scheme": "NIDN",
            },
            "investment_decision_id",
        ),
    ],
)
def test_national_id_country_prefix(record, run_rule, change, field) -> None:
    assert run_rule("RR-PRS-007", record) == []  # FR19800101JEAN#DUPON
    record.update(change)
    assert _codes(run_rule("RR-PRS-007", record)) == [("RR-PRS-007", field)]


@pytest.mark.parametrize(
    "national_id", ["ITRSSMRA80A01H501U", "ES12345678Z", "GB19850615JOHN#SMITH", "XK1234567"]
)
def test_national_id_country_prefix_passes(record, run_rule, national_id) -> None:
    record.update(seller_id=national_id, seller_id_scheme="NIDN")
    assert run_rule("RR-PRS-007", record) == []


def test_national_id_country_prefix_skips_malformed_ids(record, run_rule) -> None:
    record["seller_id"] = "1234567"  # RR-PRS-004's finding: one finding per bad id
    assert run_rule("RR-PRS-007", record) == []
