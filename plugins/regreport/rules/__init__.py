"""MiFIR RTS 22 record validation rules, kept as a catalogue (STYLE B6).

`registry.json` is the catalogue: one entry per rule with `code`, `message`, `severity`
("error" keeps the record out of the report, "warning" reports it and flags it), `legal_ref` and
`applies_to` (record fields, or "record"). Each family module implements its codes with
`@rule_impl("<CODE>")`; importing this package registers all of them.

Code scheme: ``RR-<FAMILY>-<NNN>``. ``RR`` is the project ("RegReport", to keep our codes apart
from ESMA's own ``FIL-``/``CON-`` feedback ids); ``FAMILY`` is the module; ``NNN`` is a
three-digit sequence within the family, never reused once published:

- ``LEI``  `lei.py`        legal entity identifiers (fields 4, 6, 7, 12, 16, 21, 26, 27)
- ``ISIN`` `isin.py`       instrument and underlying identification codes (fields 41, 47)
- ``MIC``  `mic.py`        venue (field 36) against ISO 10383; on-venue fields 3, 37
- ``CCY``  `currency.py`   currencies (fields 31, 34, 39, 44, 45, 52) against ISO 4217
- ``PRS``  `persons.py`    natural persons: names, birth date, national ids, CONCAT, joint
  holders (fields 7-24, 57, 59)
- ``VAL``  `values.py`     quantity, price, net amount, strike, multiplier (30-35, 46, 51, 52)
- ``TS``   `timestamps.py` trading date time (field 28); expiry/maturity vs trade date
- ``PTY``  `parties.py`    buyer vs seller, id type consistency, country codes (7-11, 16-20)
- ``CAP``  `capacity.py`   trading capacity (field 29)
- ``DEC``  `decision.py`   decision makers and executors (fields 12-15, 21-24, 57-60)
- ``INS``  `instrument.py` mandatory/forbidden fields per instrument type (30-56, 62)
- ``REF``  `refdata.py`    reference data: instruments against FIRDS on the trade date, CFI
  against type and attributes, LEIs against GLEIF (fields 4, 6, 7, 12, 16, 21, 26, 27, 41-56)

Usage::

    ctx = RuleContext.for_period(start, end, Settings.from_env().refdata_dir)
    findings = check_record(record, ctx)
"""

from __future__ import annotations

from regreport.rules import (  # noqa: F401 - imported to register their rules.
    capacity,
    currency,
    decision,
    instrument,
    isin,
    lei,
    mic,
    parties,
    persons,
    refdata,
    timestamps,
    values,
)
from regreport.rules._registry import (
    CATALOGUE,
    CatalogueEntry,
    Finding,
    RefData,
    RefDataMissingError,
    RuleCatalogueError,
    RuleContext,
    catalogue_mismatches,
    check_record,
    implementations,
    rule_impl,
)

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "Finding",
    "RefData",
    "RefDataMissingError",
    "RuleCatalogueError",
    "RuleContext",
    "catalogue_mismatches",
    "check_record",
    "implementations",
    "rule_impl",
]
