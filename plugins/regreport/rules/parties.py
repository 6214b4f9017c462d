"""Buyer/seller consistency rules (RTS 22 fields 7 and 16).

Codes: RR-PTY-001 (buyer and seller ids differ).

Ids are compared case-insensitively with surrounding spaces removed. Not covered: joint
accounts (several account owners per side) and decision makers (fields 12, 21), which the
record model does not carry yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regreport.rules._registry import finding, rule_impl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext


def normalised_id(record: Mapping[str, Any], side: str) -> str:
    """The `<side>_id` value, stripped and uppercased, for comparisons."""
    return str(record.get(f"{side}_id") or "").strip().upper()


@rule_impl("RR-PTY-001")
def buyer_differs_from_seller(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PTY-001: "Buyer identification code" (7) differs from "Seller identification code" (16).

    Missing ids are not compared (the schema makes both mandatory).
    """
    buyer = normalised_id(record, "buyer")
    if buyer and buyer == normalised_id(record, "seller"):
        yield finding("RR-PTY-001", "seller_id")
