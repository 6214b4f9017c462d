"""MiFIR RTS 22 record validation rules, kept as a catalogue (STYLE B6).

`registry.json` is the catalogue: one entry per rule with `code`, `message`, `severity`
("error" keeps the record out of the report, "warning" reports it and flags it), `legal_ref` and
`applies_to` (record fields, or "record"). Each family module implements its codes with
`@rule_impl("<CODE>")`; importing this package registers all of them.

Code scheme: ``RR-<FAMILY>-<NNN>``. ``RR`` is the project ("RegReport", to keep our codes apart
from ESMA's own ``FIL-``/``CON-`` feedback ids); ``FAMILY`` is the module; ``NNN`` is a
three-digit sequence within the family, never reused once published:

- ``LEI``  `lei.py`        legal entity identifiers (fields 4, 6, 7, 16)
- ``ISIN`` `isin.py`       instrument identification code (field 41)
- ``MIC``  `mic.py`        venue (field 36) against ISO 10383
- ``CCY``  `currency.py`   price currency (field 34) against ISO 4217
- ``PRS``  `persons.py`    natural persons: names, birth date, CONCAT (fields 7-11, 16-20)
- ``VAL``  `values.py`     quantity and price (fields 30, 33)
- ``TS``   `timestamps.py` trading date time (field 28)
- ``PTY``  `parties.py`    buyer vs seller (fields 7, 16)
- ``CAP``  `capacity.py`   trading capacity (field 29)

Usage::

    ctx = RuleContext.for_period(start, end, Settings.from_env().refdata_dir)
    findings = check_record(record, ctx)
"""

from __future__ import annotations

from regreport.rules import (  # noqa: F401 - imported to register their rules.
    capacity,
    currency,
    isin,
    lei,
    mic,
    parties,
    persons,
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
