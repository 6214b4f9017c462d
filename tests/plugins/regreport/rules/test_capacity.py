"""RR-CAP-001/002/003 on the trading capacity; the baseline is DEAL with the firm as buyer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

OTHER_LEI = "969500HMVSZ0TCV65D58"


@pytest.mark.parametrize("capacity", ["DEAL", "MTCH", "AOTC"])
def test_known_capacity_passes(record, run_rule, capacity) -> None:
    record["trading_capacity"] = capacity
    assert run_rule("RR-CAP-001", record) == []


@pytest.mark.parametrize("capacity", ["deal", "PRIN", "", None])
def test_unknown_capacity_fails(record, run_rule, capacity) -> None:
    record["trading_capacity"] = capacity
    assert [(f.code, f.field) for f in run_rule("RR-CAP-001", record)] == [
        ("RR-CAP-001", "trading_capacity")
    ]


def test_aotc_with_firm_as_party_warns(record, run_rule) -> None:
    record["trading_capacity"] = "AOTC"
    assert [(f.code, f.severity) for f in run_rule("RR-CAP-002", record)] == [
        ("RR-CAP-002", "warning")
    ]
    record["buyer_id"] = OTHER_LEI
    assert run_rule("RR-CAP-002", record) == []


def test_deal_without_firm_as_party_warns(record, run_rule) -> None:
    assert run_rule("RR-CAP-003", record) == []
    record["buyer_id"] = OTHER_LEI
    assert [(f.code, f.severity) for f in run_rule("RR-CAP-003", record)] == [
        ("RR-CAP-003", "warning")
    ]
    record["trading_capacity"] = "MTCH"
    assert run_rule("RR-CAP-003", record) == []


def test_mtch_with_firm_as_party_passes(record, run_rule) -> None:
    record["trading_capacity"] = "MTCH"
    assert run_rule("RR-CAP-004", record) == []


def test_mtch_without_firm_warns(record, run_rule) -> None:
    record.update(trading_capacity="MTCH", buyer_id=OTHER_LEI)
    found = run_rule("RR-CAP-004", record)
    assert [(f.code, f.severity) for f in found] == [("RR-CAP-004", "warning")]
