"""RR-PRS-001/002/003 on natural-person buyers and sellers."""

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
