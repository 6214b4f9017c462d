"""RR-REF-001..009: instruments against FIRDS, CFI against the record, LEIs against GLEIF.

The tables are built in memory (`RefData(firds=..., gleif=...)`), as the rule gate fills them
from the warehouse; the trade date of the baseline record is 2026-03-02.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import pytest

from regreport.identifiers import isin_with_check_digit
from regreport.refdata import FirdsEntry, LeiEntry
from regreport.rules import Finding, RefData, RuleContext, check_record, implementations

pytestmark = pytest.mark.unit

# As in conftest.py (the baseline record and the option fixture).
FIRM_LEI = "529900T8BM49AURSDO55"
CLIENT_LEI = "5493001KJTIIGC8Y1R12"
SHARE_ISIN = "US0378331005"
OPTION_ISIN = isin_with_check_digit("DE000C7ZQ1A")
PERIOD = (date(2026, 3, 2), date(2026, 3, 3))
DAY = PERIOD[0]
LISTED = ((date(2010, 1, 4), None),)


def _lei(status: str = "ISSUED", **dates: Any) -> LeiEntry:
    return LeiEntry(
        lei="X",
        registration_status=status,
        entity_status=dates.pop("entity_status", "ACTIVE"),
        initial_registration_date=dates.pop("registered", date(2013, 1, 15)),
        last_update_date=dates.pop("updated", date(2025, 1, 15)),
        next_renewal_date=dates.pop("renewal", date(2027, 1, 15)),
        entity_expiration_date=dates.pop("expired", None),
    )


FIRDS = {
    SHARE_ISIN: FirdsEntry(SHARE_ISIN, "ESVUFR", "EUR", LISTED),
    OPTION_ISIN: FirdsEntry(OPTION_ISIN, "OCESPS", "EUR", LISTED),
}
GLEIF = {FIRM_LEI: _lei(), CLIENT_LEI: _lei()}

Run = Callable[..., list[tuple[str, str]]]


@pytest.fixture
def run(ctx: RuleContext) -> Run:
    """Run one rule with the given FIRDS and GLEIF tables (None: not loaded)."""

    def go(
        code: str,
        rec: Mapping[str, Any],
        firds: Mapping[str, FirdsEntry] | None = FIRDS,
        gleif: Mapping[str, LeiEntry] | None = GLEIF,
    ) -> list[tuple[str, str]]:
        refdata = RefData(ctx.refdata.refdata_dir, firds=firds, gleif=gleif)
        found: list[Finding] = list(implementations()[code](rec, RuleContext(*PERIOD, refdata)))
        return [(f.code, f.field) for f in found]

    return go


def test_clean_record_passes_every_rule_with_tables_loaded(record, ctx) -> None:
    refdata = RefData(ctx.refdata.refdata_dir, firds=FIRDS, gleif=GLEIF)
    assert check_record(record, RuleContext(*PERIOD, refdata)) == []


def test_default_context_means_not_loaded(ctx) -> None:
    assert (ctx.refdata.firds, ctx.refdata.gleif) == (None, None)


# -- FIRDS --------------------------------------------------------------------------------------


def test_ref_001_unknown_isin_in_firds(record, run) -> None:
    assert run("RR-REF-001", record) == []
    record["instrument_isin"] = "FR0000120271"
    assert run("RR-REF-001", record) == [("RR-REF-001", "instrument_isin")]
    # Not loaded: cannot tell. Reported as Othr: not expected in FIRDS.
    assert run("RR-REF-001", record, firds=None) == []
    record["instrument_in_firds"] = False
    assert run("RR-REF-001", record) == []


@pytest.mark.parametrize(
    ("window", "valid"),
    [
        ((date(2010, 1, 4), None), True),
        ((date(2010, 1, 4), DAY), True),  # terminated on the trade date: still valid that day
        ((DAY, None), True),
        ((date(2010, 1, 4), date(2026, 3, 1)), False),  # terminated the day before
        ((date(2026, 3, 3), None), False),  # first traded the day after
    ],
)
def test_ref_002_validity_window(record, run, window, valid) -> None:
    firds = {SHARE_ISIN: FirdsEntry(SHARE_ISIN, "ESVUFR", "EUR", (window,))}
    expected = [] if valid else [("RR-REF-002", "instrument_isin")]
    assert run("RR-REF-002", record, firds=firds) == expected


def test_ref_002_any_venue_window_is_enough(record, run) -> None:
    ended = (date(2010, 1, 4), date(2020, 1, 1))
    firds = {SHARE_ISIN: FirdsEntry(SHARE_ISIN, "ESVUFR", "EUR", (ended, (date(2019, 5, 1), None)))}
    assert run("RR-REF-002", record, firds=firds) == []
    assert run("RR-REF-002", record, firds=None) == []


def test_ref_003_underlying_must_be_known_and_valid(option, run) -> None:
    assert run("RR-REF-003", option) == []
    option["underlying_isin"] = "FR0000120271"
    assert run("RR-REF-003", option) == [("RR-REF-003", "underlying_isin")]
    assert run("RR-REF-003", option, firds=None) == []
    terminated = FirdsEntry(SHARE_ISIN, "ESVUFR", "EUR", ((date(2010, 1, 4), date(2025, 1, 1)),))
    option["underlying_isin"] = SHARE_ISIN
    assert run("RR-REF-003", option, firds={SHARE_ISIN: terminated}) == [
        ("RR-REF-003", "underlying_isin")
    ]


@pytest.mark.parametrize(
    ("kind", "cfi", "ok"),
    [
        ("SHARE", "ESVUFR", True),
        ("ETF", "CEOGEU", True),
        ("BOND", "DBFTFB", True),
        ("OPTION", "OCESPS", True),
        ("FUTURE", "FFSCSX", True),
        ("SHARE", "DBFTFB", False),
        ("OPTION", "FFSCSX", False),
        ("FUTURE", "OPESPS", False),
    ],
)
def test_ref_004_cfi_category_from_the_record(option, run, kind, cfi, ok) -> None:
    option.update(instrument_type=kind, instrument_cfi=cfi)
    assert run("RR-REF-004", option, firds=None) == (
        [] if ok else [("RR-REF-004", "instrument_cfi")]
    )


def test_ref_004_cfi_category_from_firds(record, run) -> None:
    assert run("RR-REF-004", record) == []
    firds = {SHARE_ISIN: FirdsEntry(SHARE_ISIN, "DBFTFB", "EUR", LISTED)}
    assert run("RR-REF-004", record, firds=firds) == [("RR-REF-004", "instrument_isin")]
    assert run("RR-REF-004", record, firds=None) == []


@pytest.mark.parametrize(
    ("cfi", "field"),
    [
        ("OCESPS", None),  # call, European, stock, physical, standardised: as the fields say
        ("OCXSPS", None),  # X: exercise style not given, not compared
        ("OPESPS", "option_type"),
        ("OCASPS", "exercise_style"),
        ("OCESCS", "delivery_type"),
    ],
)
def test_ref_005_option_attributes_agree_with_cfi(option, run, cfi, field) -> None:
    option.update(instrument_cfi=cfi, option_type="CALL", exercise_style="EURO")
    assert run("RR-REF-005", option) == ([] if field is None else [("RR-REF-005", field)])


def test_ref_005_future_delivery(option, run) -> None:
    option.update(
        instrument_type="FUTURE",
        instrument_cfi="FFSCSX",
        option_type=None,
        strike_price=None,
        exercise_style=None,
        delivery_type="CASH",
    )
    assert run("RR-REF-005", option) == []
    option["delivery_type"] = "PHYS"
    assert run("RR-REF-005", option) == [("RR-REF-005", "delivery_type")]


# -- GLEIF --------------------------------------------------------------------------------------


def test_ref_006_entity_lei_unknown_or_registered_later(record, run) -> None:
    assert run("RR-REF-006", record) == []
    assert run("RR-REF-006", record, gleif={CLIENT_LEI: _lei()}) == [
        ("RR-REF-006", "executing_entity_lei"),
        ("RR-REF-006", "submitting_entity_lei"),
    ]
    later = {FIRM_LEI: _lei(registered=date(2026, 3, 3))}
    assert len(run("RR-REF-006", record, gleif=later)) == 2
    assert run("RR-REF-006", record, gleif=None) == []


def test_ref_006_skips_malformed_leis(record, run) -> None:
    # RR-LEI-001/002 report these; one bad value, one finding.
    record["executing_entity_lei"] = "529900T8BM49AURSDO56"
    assert run("RR-REF-006", record) == []


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        (_lei("ISSUED"), True),
        (_lei("PENDING_TRANSFER"), True),
        (_lei("PENDING_ARCHIVAL"), True),
        (_lei("LAPSED", renewal=date(2026, 1, 31)), False),
        (_lei("LAPSED", renewal=date(2026, 3, 10)), True),  # lapsed after the trade
        (_lei("RETIRED", updated=date(2026, 2, 1)), False),
        (_lei("MERGED", updated=date(2026, 3, 20)), True),  # merged after the trade
        (_lei("ANNULLED", updated=date(2026, 3, 20)), False),
        (_lei("PENDING_VALIDATION"), False),
    ],
)
def test_ref_007_entity_lei_issued_on_trade_date(record, run, entry, ok) -> None:
    result = run("RR-REF-007", record, gleif={FIRM_LEI: entry})
    assert result == ([] if ok else [("RR-REF-007", "executing_entity_lei"),
                                      ("RR-REF-007", "submitting_entity_lei")])  # fmt: skip


def _client_sells(record: dict[str, Any]) -> dict[str, Any]:
    record.update(
        seller_id_type="LEI",
        seller_id=CLIENT_LEI,
        seller_id_scheme=None,
        seller_first_name=None,
        seller_surname=None,
        seller_birth_date=None,
    )
    return record


def test_ref_008_party_lei_unknown(record, run) -> None:
    _client_sells(record)
    assert run("RR-REF-008", record) == []
    assert run("RR-REF-008", record, gleif={FIRM_LEI: _lei()}) == [("RR-REF-008", "seller_id")]
    later = {**GLEIF, CLIENT_LEI: _lei(registered=date(2026, 3, 5))}
    assert run("RR-REF-008", record, gleif=later) == [("RR-REF-008", "seller_id")]
    assert run("RR-REF-008", record, gleif=None) == []


def test_ref_008_decision_maker_and_transmitting_firm(record, run) -> None:
    other = "549300PSVDV3P50KHS39"
    record.update(
        buyer_decision_maker_type="LEI",
        buyer_decision_maker_id=other,
        transmitting_firm_buyer_lei=other,
    )
    assert run("RR-REF-008", record) == [
        ("RR-REF-008", "buyer_decision_maker_id"),
        ("RR-REF-008", "transmitting_firm_buyer_lei"),
    ]


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        (_lei("ISSUED"), True),
        (_lei("LAPSED", renewal=date(2024, 1, 1)), True),  # lapsed client: accepted
        (_lei("RETIRED", updated=date(2026, 2, 1)), False),
        (_lei("RETIRED", updated=date(2026, 2, 1), expired=date(2026, 6, 30)), True),
        (_lei("MERGED", updated=date(2026, 3, 2)), False),  # merged on the trade date
        (_lei("DUPLICATE", updated=date(2026, 4, 1)), True),
        (_lei("ANNULLED", updated=date(2027, 1, 1)), False),
        (_lei("ISSUED", entity_status="INACTIVE", updated=date(2025, 6, 1)), False),
        (_lei("CANCELLED"), False),
    ],
)
def test_ref_009_party_lei_status(record, run, entry, ok) -> None:
    _client_sells(record)
    result = run("RR-REF-009", record, gleif={**GLEIF, CLIENT_LEI: entry})
    assert result == ([] if ok else [("RR-REF-009", "seller_id")])


def test_ref_009_firm_lapsed_is_007_not_009(record, run) -> None:
    lapsed = {FIRM_LEI: _lei("LAPSED", renewal=date(2025, 1, 1))}
    assert run("RR-REF-009", record, gleif=lapsed) == []
    assert len(run("RR-REF-007", record, gleif=lapsed)) == 2
