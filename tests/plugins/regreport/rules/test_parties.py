"""RR-PTY-001: buyer and seller differ."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_different_parties_pass(record, run_rule) -> None:
    assert run_rule("RR-PTY-001", record) == []


@pytest.mark.parametrize("seller", ["529900T8BM49AURSDO55", " 529900t8bm49aursdo55 "])
def test_same_party_fails(record, run_rule, seller) -> None:
    record.update(seller_id_type="LEI", seller_id=seller)
    assert [(f.code, f.field) for f in run_rule("RR-PTY-001", record)] == [
        ("RR-PTY-001", "seller_id")
    ]


def test_both_intc_fails(record, run_rule) -> None:
    record.update(buyer_id_type="INTC", buyer_id="INTC", seller_id_type="INTC", seller_id="INTC")
    assert [f.code for f in run_rule("RR-PTY-001", record)] == ["RR-PTY-001"]
