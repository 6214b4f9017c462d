"""RR-ISIN-001/002/003 on the instrument and underlying identification codes."""

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


def test_underlying_isin_checked_when_present(option, run_rule) -> None:
    assert run_rule("RR-ISIN-001", option) == []
    assert run_rule("RR-ISIN-002", option) == []
    option["underlying_isin"] = "US0378331006"  # last digit changed: Luhn fails
    assert [(f.code, f.field) for f in run_rule("RR-ISIN-002", option)] == [
        ("RR-ISIN-002", "underlying_isin")
    ]
    option["underlying_isin"] = "APPLE"
    assert [(f.code, f.field) for f in run_rule("RR-ISIN-001", option)] == [
        ("RR-ISIN-001", "underlying_isin")
    ]


def test_missing_underlying_is_not_an_isin_finding(record, run_rule) -> None:
    assert record["underlying_isin"] is None
    assert run_rule("RR-ISIN-001", record) == []


@pytest.mark.parametrize(
    # Countries, and the ISIN-specific prefixes: international (XS), EU, a substitute agency.
    "isin",
    ["US0378331005", "XS0000000009", "EU000A1G0BN7", "XA0000000000"],
)
def test_known_isin_prefix_passes(record, run_rule, isin) -> None:
    record["instrument_isin"] = isin
    assert run_rule("RR-ISIN-003", record) == []


def test_unknown_isin_prefix_fails(record, run_rule) -> None:
    from regreport.identifiers import isin_with_check_digit

    record["instrument_isin"] = isin_with_check_digit("ZZ037833100")  # right check digit
    assert [(f.code, f.field) for f in run_rule("RR-ISIN-003", record)] == [
        ("RR-ISIN-003", "instrument_isin")
    ]
    assert run_rule("RR-ISIN-002", record) == []


def test_unknown_underlying_isin_prefix_fails(option, run_rule) -> None:
    assert run_rule("RR-ISIN-003", option) == []
    option["underlying_isin"] = "UK0378331005"  # UK is not ISO 3166-1 (GB); wrong digit too
    assert [(f.code, f.field) for f in run_rule("RR-ISIN-003", option)] == [
        ("RR-ISIN-003", "underlying_isin")
    ]


def test_isin_prefix_rule_skips_malformed_isins(record, run_rule) -> None:
    record["instrument_isin"] = "zz0378331005"  # RR-ISIN-001's finding
    assert run_rule("RR-ISIN-003", record) == []
