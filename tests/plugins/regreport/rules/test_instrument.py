"""RR-INS-001..008: mandatory, forbidden and coded fields per instrument type."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

pytestmark = pytest.mark.unit

INS_CODES = (
    "RR-INS-001",
    "RR-INS-002",
    "RR-INS-003",
    "RR-INS-004",
    "RR-INS-005",
    "RR-INS-006",
    "RR-INS-007",
    "RR-INS-008",
)
OTHER_LEI = "969500HMVSZ0TCV65D58"  # a legal-entity client


def _codes(found):
    return [(f.code, f.field) for f in found]


@pytest.mark.parametrize("kind", ["share", "bond", "option"])
def test_valid_instruments_pass(request, run_rule, kind) -> None:
    rec = request.getfixturevalue("record" if kind == "share" else kind)
    for code in INS_CODES:
        assert run_rule(code, rec) == [], code


def test_future_not_in_firds_passes(option, run_rule) -> None:
    option.update(
        instrument_type="FUTURE",
        instrument_cfi="FFICSX",
        option_type=None,
        strike_price=None,
        strike_currency=None,
        exercise_style=None,
        delivery_type="CASH",
    )
    for code in INS_CODES:
        assert run_rule(code, option) == [], code


@pytest.mark.parametrize("kind", ["FX_SPOT", "SWAP", None])
def test_unknown_instrument_type_fails(record, run_rule, kind) -> None:
    record["instrument_type"] = kind
    assert _codes(run_rule("RR-INS-001", record)) == [("RR-INS-001", "instrument_type")]


def test_bond_needs_net_amount(bond, run_rule) -> None:
    bond["net_amount"] = None
    assert _codes(run_rule("RR-INS-002", bond)) == [("RR-INS-002", "net_amount")]


def test_bond_outside_firds_needs_description_and_maturity(bond, run_rule) -> None:
    bond.update(instrument_in_firds=False, maturity_date=None)
    assert _codes(run_rule("RR-INS-002", bond)) == [
        ("RR-INS-002", "instrument_full_name"),
        ("RR-INS-002", "instrument_cfi"),
        ("RR-INS-002", "maturity_date"),
    ]


@pytest.mark.parametrize(
    "field",
    [
        "option_type",
        "strike_price",
        "exercise_style",
        "expiry_date",
        "underlying_isin",
        "price_multiplier",
        "delivery_type",
        "instrument_full_name",
        "instrument_cfi",
    ],
)
def test_option_outside_firds_needs_its_attributes(option, run_rule, field) -> None:
    option[field] = None
    assert _codes(run_rule("RR-INS-002", option)) == [("RR-INS-002", field)]


def test_firds_flag_is_mandatory(record, run_rule) -> None:
    record["instrument_in_firds"] = None
    assert _codes(run_rule("RR-INS-002", record)) == [("RR-INS-002", "instrument_in_firds")]


@pytest.mark.parametrize(
    ("fixture", "change", "field"),
    [
        ("record", {"strike_price": Decimal("10")}, "strike_price"),
        ("record", {"expiry_date": date(2026, 6, 19)}, "expiry_date"),
        ("record", {"net_amount": Decimal("18725.00")}, "net_amount"),
        ("record", {"maturity_date": date(2030, 1, 1)}, "maturity_date"),
        ("bond", {"delivery_type": "CASH"}, "delivery_type"),
        ("option", {"maturity_date": date(2030, 1, 1)}, "maturity_date"),
        ("record", {"upfront_payment": Decimal("1")}, "upfront_payment"),
        ("record", {"deriv_notional_change": "INCR"}, "deriv_notional_change"),
        # In FIRDS the ISIN is the whole description: no Othr fields.
        ("record", {"instrument_full_name": "APPLE INC"}, "instrument_full_name"),
        ("record", {"instrument_cfi": "ESVUFR"}, "instrument_cfi"),
    ],
)
def test_forbidden_fields_fail(request, run_rule, fixture, change, field) -> None:
    rec = request.getfixturevalue(fixture)
    rec.update(change)
    assert _codes(run_rule("RR-INS-003", rec)) == [("RR-INS-003", field)]


def test_future_must_not_carry_option_attributes(option, run_rule) -> None:
    option["instrument_type"] = "FUTURE"
    assert _codes(run_rule("RR-INS-003", option)) == [
        ("RR-INS-003", "option_type"),
        ("RR-INS-003", "strike_price"),
        ("RR-INS-003", "strike_currency"),
        ("RR-INS-003", "exercise_style"),
    ]


@pytest.mark.parametrize(
    ("fixture", "change", "field"),
    [
        ("bond", {"quantity_type": "UNIT"}, "quantity_type"),
        ("bond", {"price_type": "MNTRY"}, "price_type"),
        ("record", {"quantity_type": "NMNL"}, "quantity_type"),
        ("record", {"price_type": "PCTG"}, "price_type"),
    ],
)
def test_notation_must_fit_type(request, run_rule, fixture, change, field) -> None:
    rec = request.getfixturevalue(fixture)
    rec.update(change)
    assert _codes(run_rule("RR-INS-004", rec)) == [("RR-INS-004", field)]


@pytest.mark.parametrize("price_type", ["PNDG", "NOAP"])
def test_pending_price_allowed_for_every_type(bond, run_rule, price_type) -> None:
    bond.update(price_type=price_type, price=None)
    assert run_rule("RR-INS-004", bond) == []


def _client_sells(record) -> None:
    # The baseline: the firm buys, a natural-person client sells.
    assert record["seller_id_type"] == "PERSON"
    record.update(buyer_id_type="LEI", buyer_id="CCPCLEARING000000084")


@pytest.mark.parametrize("fixture", ["record", "bond"])
def test_short_sale_of_share_or_bond_passes(request, run_rule, fixture) -> None:
    rec = request.getfixturevalue(fixture)
    _client_sells(rec)
    rec["short_selling_ind"] = "SESH"
    assert run_rule("RR-INS-005", rec) == []


def _mtch_client_leg(record, client_side: str) -> None:
    """Client leg of a matched principal trade: the firm faces a legal-entity client that has
    no branch country, so only the `leg` column tells which side is the client's."""
    firm_side = "seller" if client_side == "buyer" else "buyer"
    record.update(trading_capacity="MTCH", leg="CLIENT", venue="XOFF")
    record.update(venue_transaction_id=None, short_selling_ind="SESH")
    for side, lei in ((firm_side, record["executing_entity_lei"]), (client_side, OTHER_LEI)):
        record.update({f"{side}_id_type": "LEI", f"{side}_id": lei})
        record.update({f"{side}_{k}": None for k in ("id_scheme", "first_name", "surname")})
        record.update({f"{side}_birth_date": None, f"{side}_branch_country": None})


def test_short_sale_on_mtch_client_leg_is_the_clients(record, run_rule) -> None:
    # The client sells to the firm: its short sale is reported (the firm, the buyer, is not
    # the side that acts on this leg).
    _mtch_client_leg(record, "seller")
    assert run_rule("RR-INS-005", record) == []
    # The client buys from the firm: no sale of the client's, the indicator is misplaced.
    _mtch_client_leg(record, "buyer")
    assert _codes(run_rule("RR-INS-005", record)) == [("RR-INS-005", "short_selling_ind")]


@pytest.mark.parametrize(
    "change",
    [
        {"short_selling_ind": "SHRT"},  # not a code
        {"short_selling_ind": "SESH", "instrument_type": "ETF"},
        # The client buys (it is the buyer, a counterparty LEI sells): not a sale.
        {
            "short_selling_ind": "SELL",
            "buyer_id_type": "PERSON",
            "buyer_id": "FR19800101JEAN#DUPON",
            "buyer_branch_country": "FR",
            "seller_id_type": "LEI",
            "seller_id": "CCPCLEARING000000084",
            "seller_branch_country": None,
        },
    ],
)
def test_short_selling_misuse_fails(record, run_rule, change) -> None:
    _client_sells(record)
    record.update(change)
    assert _codes(run_rule("RR-INS-005", record)) == [("RR-INS-005", "short_selling_ind")]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("instrument_cfi", "OCAS"),
        ("option_type", "PUT"),
        ("exercise_style", "EUROPEAN"),
        ("delivery_type", "CSH"),
    ],
)
def test_coded_attributes_fail(option, run_rule, field, bad) -> None:
    option[field] = bad
    assert _codes(run_rule("RR-INS-006", option)) == [("RR-INS-006", field)]


@pytest.mark.parametrize("kind", ["SHARE", "ETF", "BOND"])
def test_only_derivatives_may_lack_firds_data(record, run_rule, kind) -> None:
    # The option fixture (not in FIRDS) passes RR-INS-007 in test_valid_instruments_pass.
    record.update(instrument_type=kind, instrument_in_firds=False)
    assert _codes(run_rule("RR-INS-007", record)) == [("RR-INS-007", "instrument_in_firds")]


@pytest.mark.parametrize(
    "cfi",
    # Call, American, stock, physical, standardised (the fixture's); a put; a future; a share;
    # an ETF; a government bond (as in test_identifiers).
    ["OCASPS", "OPESCS", "FFSCSX", "ESVUFR", "CEOGEU", "DBFTFB"],
)
def test_defined_cfi_passes(option, run_rule, cfi) -> None:
    option["instrument_cfi"] = cfi
    assert run_rule("RR-INS-008", option) == []


@pytest.mark.parametrize(
    "cfi",
    [
        "ZZZZZZ",  # no category Z
        "OZASPS",  # options have no group Z
        "OCQSPS",  # no exercise style Q
        "ESVUFQ",  # no form Q for a share
    ],
)
def test_undefined_cfi_fails(option, run_rule, cfi) -> None:
    option["instrument_cfi"] = cfi
    assert run_rule("RR-INS-006", option) == []  # the shape is right
    assert _codes(run_rule("RR-INS-008", option)) == [("RR-INS-008", "instrument_cfi")]


def test_cfi_definition_skips_malformed_codes(option, run_rule) -> None:
    option["instrument_cfi"] = "ocaspS"  # RR-INS-006's finding: one finding per bad CFI
    assert run_rule("RR-INS-008", option) == []
