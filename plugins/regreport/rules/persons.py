"""Natural-person rules for every person a record names (RTS 22 fields 7-24, 57 and 59).

Codes: RR-PRS-001 (names and birth date present), RR-PRS-002 (CONCAT built correctly),
RR-PRS-003 (birth date plausible), RR-PRS-004 (identifier scheme and form), RR-PRS-005 (second
joint holder has an identifier), RR-PRS-006 (second joint holder only beside a natural person,
and a different one), RR-PRS-007 (identifier starts with an ISO 3166-1 country code).

Person slots: the buyer and seller when `<side>_id_type` is ``PERSON``; the second holder of a
joint account (`<side>2_*`) when `<side>2_id` is populated; the client's decision maker when
`<side>_decision_maker_type` is ``PERSON``. RR-PRS-004 also covers the firm's investment
decision maker and executor (fields 57, 59) when their type is ``PERSON``; those carry an id and
a scheme but no names.

Plausibility (RR-PRS-003): the person is born on or before the trade date and at most 120 years
before it (age 0 to 120 inclusive). The FCA reported clients "apparently born in 1900", so
placeholder dates are a real defect. Minors are not flagged: they can hold accounts.

The CONCAT check rebuilds the code with `regreport.identifiers.concat_national_id` from the
nationality in the code's own first two letters (the record has no separate nationality
column), the birth date, the first first name and the surname.

Messages name fields only: the values here are personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from regreport.identifiers import NATIONAL_ID_PATTERN, concat_national_id
from regreport.rules._registry import as_date, finding, present, rule_impl, trade_date
from regreport.rules.parties import COUNTRY_CODES

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

PERSON = "PERSON"
MAX_AGE_YEARS = 120
SIDES = ("buyer", "seller")
SCHEMES = frozenset({"NIDN", "CCPT", "CONCAT"})
#: Clients trade many times a day; building their CONCAT once per process is enough. The cache
#: is process memory only (never logged or stored) and bounded.
_concat = lru_cache(maxsize=65_536)(concat_national_id)


@dataclass(frozen=True)
class Slot:
    """Where one natural person sits in the record: its field prefix and id/scheme columns."""

    prefix: str
    id_field: str
    scheme_field: str
    type_field: str | None
    named: bool = True

    def active(self, record: Mapping[str, Any]) -> bool:
        """Whether the record names a natural person in this slot."""
        if self.type_field is None:
            return present(record.get(self.id_field))
        return record.get(self.type_field) == PERSON

    def field(self, part: str) -> str:
        """Column name of `part` (first_name, surname, birth_date) in this slot."""
        return f"{self.prefix}_{part}"


def _side_slots(side: str) -> tuple[Slot, ...]:
    return (
        Slot(side, f"{side}_id", f"{side}_id_scheme", f"{side}_id_type"),
        Slot(f"{side}2", f"{side}2_id", f"{side}2_id_scheme", None),
        Slot(
            f"{side}_decision_maker",
            f"{side}_decision_maker_id",
            f"{side}_decision_maker_scheme",
            f"{side}_decision_maker_type",
        ),
    )


#: Slots with names and birth date (fields 7-24).
NAMED_SLOTS = tuple(slot for side in SIDES for slot in _side_slots(side))
#: The firm's decision maker and executor (fields 57, 59): identifier and scheme only.
FIRM_SLOTS = tuple(
    Slot(kind, f"{kind}_id", f"{kind}_scheme", f"{kind}_type", named=False)
    for kind in ("investment_decision", "executing_person")
)


def _persons(record: Mapping[str, Any]) -> Iterator[Slot]:
    return (slot for slot in NAMED_SLOTS if slot.active(record))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


@rule_impl("RR-PRS-001")
def person_details_present(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-001: "Full first name(s)", "full surname(s)", "date of birth" of a person.

    Fields 9-11, 13-15, 18-20 and 22-24 are mandatory for a natural-person buyer, seller,
    joint holder or decision maker.
    """
    for slot in _persons(record):
        for part in ("first_name", "surname"):
            if not present(record.get(slot.field(part))):
                yield finding("RR-PRS-001", slot.field(part))
        if as_date(record.get(slot.field("birth_date"))) is None:
            yield finding("RR-PRS-001", slot.field("birth_date"))


@rule_impl("RR-PRS-002")
def concat_matches_person(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-002: "CONCAT": nationality, date of birth, first name and surname (RTS 22 Art. 6).

    Art. 6(1)(b): "the concatenation of the ISO 3166-1 alpha-2 code of the nationality ...
    date of birth ... first five characters of the first name ... first five characters of
    the surname".

    Only for ids with scheme CONCAT whose person details are present (else RR-PRS-001).
    """
    for slot in _persons(record):
        if record.get(slot.scheme_field) != "CONCAT":
            continue
        code = str(record.get(slot.id_field) or "")
        first = str(record.get(slot.field("first_name")) or "")
        surname = str(record.get(slot.field("surname")) or "")
        born = as_date(record.get(slot.field("birth_date")))
        if born is None or not first.strip() or not surname.strip():
            continue
        if code != _concat(code[:2], born, first, surname):
            yield finding("RR-PRS-002", slot.id_field)


@rule_impl("RR-PRS-003")
def birth_date_plausible(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-003: "Date of birth" (fields 11, 15, 20, 24) is plausible.

    Age 0 to 120 years inclusive on the trade date.

    Uses the trade date, falling back to the last day of the reporting period.
    """
    day = trade_date(record) or ctx.period_end
    oldest = _years_before(day, MAX_AGE_YEARS)
    for slot in _persons(record):
        born = as_date(record.get(slot.field("birth_date")))
        if born is not None and not oldest <= born <= day:
            yield finding("RR-PRS-003", slot.field("birth_date"))


@rule_impl("RR-PRS-004")
def national_id_form(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-004: "national_id ... as set out in Article 6" with its scheme NIDN, CCPT or CONCAT.

    The scheme must be one of the three, and the identifier must have the auth.016 form
    ``[A-Z]{2}[A-Z0-9#]{1,33}`` (country code first).
    """
    for slot in (*NAMED_SLOTS, *FIRM_SLOTS):
        if not slot.active(record):
            continue
        if record.get(slot.scheme_field) not in SCHEMES:
            yield finding("RR-PRS-004", slot.scheme_field)
        if not NATIONAL_ID_PATTERN.fullmatch(str(record.get(slot.id_field) or "")):
            yield finding("RR-PRS-004", slot.id_field)


def _second_holder_parts(side: str) -> tuple[str, ...]:
    return tuple(f"{side}2_{part}" for part in ("id_scheme", "first_name", "surname", "birth_date"))


@rule_impl("RR-PRS-005")
def second_holder_identified(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-005: a second "account owner" (field 7/16 repeated) is complete or absent.

    Details of a second joint holder without its identifier cannot be reported: the holder
    would be dropped from the file. With the identifier, RR-PRS-001/004 check the rest.
    """
    for side in SIDES:
        if present(record.get(f"{side}2_id")):
            continue
        if any(present(record.get(name)) for name in _second_holder_parts(side)):
            yield finding("RR-PRS-005", f"{side}2_id")


@rule_impl("RR-PRS-006")
def second_holder_beside_person(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-006: joint account holders (fields 7/16 repeated) are distinct natural persons.

    A second holder belongs to a natural-person first holder (joint accounts of individuals)
    and must not repeat the first holder's identifier.
    """
    for side in SIDES:
        second = str(record.get(f"{side}2_id") or "").strip().upper()
        if not second:
            continue
        first = str(record.get(f"{side}_id") or "").strip().upper()
        if record.get(f"{side}_id_type") != PERSON or second == first:
            yield finding("RR-PRS-006", f"{side}2_id")


@rule_impl("RR-PRS-007")
def national_id_country(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PRS-007: "national_id": the first two characters are an ISO 3166-1 alpha-2 code.

    RTS 22 Art. 6: the identifier is prefixed with the country of the person's nationality
    (for CONCAT, Art. 6(1)(b) begins with it). Checked where RR-PRS-004 found the form right,
    against the same country list as RR-PTY-005.
    """
    for slot in (*NAMED_SLOTS, *FIRM_SLOTS):
        if not slot.active(record):
            continue
        value = str(record.get(slot.id_field) or "")
        if NATIONAL_ID_PATTERN.fullmatch(value) and value[:2] not in COUNTRY_CODES:
            yield finding("RR-PRS-007", slot.id_field)
