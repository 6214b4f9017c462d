"""Natural-person rules for buyers and sellers (RTS 22 fields 7-11 and 16-20).

Codes: RR-PRS-001 (names and birth date present), RR-PRS-002 (CONCAT built correctly),
RR-PRS-003 (birth date plausible).

A party is a natural person when `<side>_id_type` is ``PERSON``. Plausibility (RR-PRS-003): the
person is born on or before the trade date and at most 120 years before it (age 0 to 120
inclusive). The FCA reported clients "apparently born in 1900", so placeholder dates are a real
defect. Minors are not flagged: they can hold accounts.

The CONCAT check rebuilds the code with `regreport.identifiers.concat_national_id` from the
nationality in the code's own first two letters (the record has no separate nationality
column), the birth date, the first first name and the surname.

Messages name fields only: the values here are personal data.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from regreport.identifiers import concat_national_id
from regreport.rules._registry import as_date, finding, rule_impl, trade_date

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

PERSON = "PERSON"
MAX_AGE_YEARS = 120
SIDES = ("buyer", "seller")


def _persons(record: Mapping[str, Any]) -> Iterator[str]:
    return (side for side in SIDES if record.get(f"{side}_id_type") == PERSON)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


@rule_impl("RR-PRS-001")
def person_details_present(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-001: "Full first name(s)", "full surname(s)", "date of birth" of a person party.

    Fields 9-11 and 18-20 are mandatory when the buyer/seller is a natural person.
    """
    for side in _persons(record):
        for part in ("first_name", "surname"):
            if not str(record.get(f"{side}_{part}") or "").strip():
                yield finding("RR-PRS-001", f"{side}_{part}")
        if as_date(record.get(f"{side}_birth_date")) is None:
            yield finding("RR-PRS-001", f"{side}_birth_date")


@rule_impl("RR-PRS-002")
def concat_matches_person(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-002: "CONCAT": nationality, date of birth, first name and surname (RTS 22 Art. 6).

    Art. 6(1)(b): "the concatenation of the ISO 3166-1 alpha-2 code of the nationality ...
    date of birth ... first five characters of the first name ... first five characters of
    the surname".

    Only for ids with scheme CONCAT whose person details are present (else RR-PRS-001).
    """
    for side in _persons(record):
        if record.get(f"{side}_id_scheme") != "CONCAT":
            continue
        code = str(record.get(f"{side}_id") or "")
        first = str(record.get(f"{side}_first_name") or "")
        surname = str(record.get(f"{side}_surname") or "")
        born = as_date(record.get(f"{side}_birth_date"))
        if born is None or not first.strip() or not surname.strip():
            continue
        if code != concat_national_id(code[:2], born, first, surname):
            yield finding("RR-PRS-002", f"{side}_id")


@rule_impl("RR-PRS-003")
def birth_date_plausible(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-003: "Date of birth of the buyer/seller" (fields 11, 20) is plausible.

    Age 0 to 120 years inclusive on the trade date.

    Uses the trade date, falling back to the last day of the reporting period.
    """
    day = trade_date(record) or ctx.period_end
    oldest = _years_before(day, MAX_AGE_YEARS)
    for side in _persons(record):
        born = as_date(record.get(f"{side}_birth_date"))
        if born is not None and not oldest <= born <= day:
            yield finding("RR-PRS-003", f"{side}_birth_date")
