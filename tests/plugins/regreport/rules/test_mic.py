"""RR-MIC-001/002 against the shared ISO 10383 file.

XOCH was created 2005-06-27 and expired 2021-08-23; XPAR was created 2005-06-27.
"""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("venue", ["XPAR", "XLON", "XOFF", "XXXX"])
def test_known_venue_passes(record, run_rule, venue) -> None:
    record["venue"] = venue
    assert run_rule("RR-MIC-001", record) == []
    assert run_rule("RR-MIC-002", record) == []


@pytest.mark.parametrize("venue", ["ZZZZ", "xpar", "", None])
def test_unknown_venue_fails(record, run_rule, venue) -> None:
    record["venue"] = venue
    assert [(f.code, f.field) for f in run_rule("RR-MIC-001", record)] == [("RR-MIC-001", "venue")]
    assert run_rule("RR-MIC-002", record) == []


@pytest.mark.parametrize(
    ("venue", "day", "active"),
    [
        ("XOCH", date(2021, 8, 22), True),
        ("XOCH", date(2021, 8, 23), False),
        ("XOCH", date(2026, 3, 2), False),
        ("XPAR", date(2005, 6, 27), True),
        ("XPAR", date(2005, 6, 26), False),
    ],
)
def test_mic_active_on_trade_date(record, run_rule, venue, day, active) -> None:
    record["venue"] = venue
    record["trading_date"] = day
    assert run_rule("RR-MIC-001", record) == []
    assert [f.code for f in run_rule("RR-MIC-002", record)] == ([] if active else ["RR-MIC-002"])


def _off_venue(record, venue: str) -> None:
    record.update(venue=venue, venue_transaction_id=None, country_of_branch=None)


def test_xxxx_only_outside_firds(record, run_rule) -> None:
    _off_venue(record, "XOFF")
    assert run_rule("RR-MIC-003", record) == []
    _off_venue(record, "XXXX")
    assert [(f.code, f.field) for f in run_rule("RR-MIC-003", record)] == [("RR-MIC-003", "venue")]
    record["instrument_in_firds"] = False
    assert run_rule("RR-MIC-003", record) == []


@pytest.mark.parametrize("field", ["venue_transaction_id", "country_of_branch"])
def test_venue_fields_only_on_venue(record, run_rule, field) -> None:
    record["country_of_branch"] = "DE"
    assert run_rule("RR-MIC-004", record) == []  # on XPAR both may be set
    _off_venue(record, "XOFF")
    record[field] = "X1" if field == "venue_transaction_id" else "DE"
    assert [(f.code, f.field) for f in run_rule("RR-MIC-004", record)] == [("RR-MIC-004", field)]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("venue_transaction_id", "XPAR26120400001", "xpar-2612-0001"),
        ("venue_transaction_id", "A" * 52, "A" * 53),
        ("complex_trade_id", "CMPLX123", "cmplx 123"),
        ("complex_trade_id", "B" * 35, "B" * 36),
    ],
)
def test_venue_ids_fit_the_schema(record, run_rule, field, good, bad) -> None:
    record[field] = good
    assert run_rule("RR-MIC-005", record) == []
    record[field] = bad
    assert [(f.code, f.field) for f in run_rule("RR-MIC-005", record)] == [("RR-MIC-005", field)]
    record[field] = None  # optional fields: absent is not this rule's business
    assert run_rule("RR-MIC-005", record) == []
