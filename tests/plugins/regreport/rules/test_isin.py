"""RR-ISIN-001/002 on the instrument identification code."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("isin", ["US0378331005", "DE0007164600", "IE00B4L5Y983"])
def test_valid_isin_passes(record, run_rule, isin) -> None:
    record["instrument_isin"] = isin
    assert run_rule("RR-ISIN-001", record) == []
    assert run_rule("RR-ISIN-002", record) == []


@pytest.mark.parametrize(
    "bad", ["US037833100", "us0378331005", "1S0378331005", "US037833100X", None]
)
def test_bad_format_fails(record, run_rule, bad) -> None:
    record["instrument_isin"] = bad
    assert [f.code for f in run_rule("RR-ISIN-001", record)] == ["RR-ISIN-001"]
    assert run_rule("RR-ISIN-002", record) == []


@pytest.mark.parametrize("bad", ["US0378331006", "US0378331015"])
def test_wrong_check_digit_fails(record, run_rule, bad) -> None:
    record["instrument_isin"] = bad
    assert [(f.code, f.field) for f in run_rule("RR-ISIN-002", record)] == [
        ("RR-ISIN-002", "instrument_isin")
    ]
