"""Input rows of the golden files: one row of `rpt_mifir_rts22_transactions` per case.

Each case `NAME` has a hand-written expected file `NAME.xml` next to this module, written
from the field rules (docs/reporting/mifir/report-columns.md, RTS 22 Annex I Table 2 and the
auth.016 XSD tree), not produced by the renderer. Every person, national id, LEI and
instrument below is fictitious (LEI and ISIN check digits are computed so that the values
look real to validators).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

FIRM_LEI = "529900T8BM49AURSDO55"
CCP_LEI = "549300O897ZC5H7CY412"
CLIENT_LEI = "969500QSCLIENT000179"
BROKER_LEI = "969500QSBROKER000209"
TRANSMITTER_LEI = "969500QSTRANSM000393"
COUNTERPARTY_LEI = "969500QSCPTYBK000428"
CET = timezone(timedelta(hours=1))

#: The trader who executes most cases (CONCAT: FR + birth date + 5 letters of each name).
TRADER = {
    "executing_person_type": "PERSON",
    "executing_person_id": "FR19820704PIERRLEGRA",
    "executing_person_scheme": "CONCAT",
    "executing_person_branch_country": "FR",
}


def _base(tx_id: str, **changes: Any) -> dict[str, Any]:
    """A share bought by a legal-entity client (AOTC) from the CCP on Euronext Paris."""
    row: dict[str, Any] = {
        "record_type": "NEWT",
        "tx_id": tx_id,
        "execution_id": int(tx_id[2:].rstrip("M")),
        "trading_date": date(2026, 11, 26),
        "instrument_type": "SHARE",
        "venue_transaction_id": f"XPAR{tx_id}",
        "executing_entity_lei": FIRM_LEI,
        "investment_firm_ind": True,
        "submitting_entity_lei": FIRM_LEI,
        "buyer_id_type": "LEI",
        "buyer_id": CLIENT_LEI,
        "buyer_branch_country": "FR",
        "seller_id_type": "LEI",
        "seller_id": CCP_LEI,
        "transmission_ind": False,
        "trading_datetime": datetime(2026, 11, 26, 10, 15, 30, 123456, tzinfo=CET),
        "trading_capacity": "AOTC",
        "quantity_type": "UNIT",
        "quantity": Decimal("150.0000"),
        "price_type": "MNTRY",
        "price": Decimal("61.370000"),
        "price_currency": "EUR",
        "venue": "XPAR",
        "instrument_isin": "FR0000120271",
        "instrument_in_firds": True,
        **TRADER,
        "securities_financing_ind": False,
        "extract_run_id": "golden",
    }
    row.update(changes)
    return row


def _person(
    prefix: str,
    ident: str,
    scheme: str,
    first: str,
    surname: str,
    born: date,
    scheme_key: str = "id_scheme",
) -> dict[str, Any]:
    """The five columns of a natural person (decision makers name their scheme `_scheme`)."""
    return {
        f"{prefix}_id": ident,
        f"{prefix}_{scheme_key}": scheme,
        f"{prefix}_first_name": first,
        f"{prefix}_surname": surname,
        f"{prefix}_birth_date": born,
    }


CASES: dict[str, dict[str, Any]] = {
    # 1. Legal-entity client buys a share through the firm (AOTC); the venue's CCP sells.
    "01_share_aotc_lei_client_ccp": _base("QS1001"),
    # 2. Natural person identified by a national id (NIDN).
    "02_person_nidn": _base(
        "QS1002",
        buyer_id_type="PERSON",
        **_person("buyer", "ITRSSMRA85T10A562S", "NIDN", "MARIO", "ROSSI", date(1985, 12, 10)),
    ),
    # 3. Natural person identified by CONCAT, selling (short selling flag SELL: not short).
    "03_person_concat": _base(
        "QS1003",
        buyer_id=CCP_LEI,
        buyer_branch_country=None,
        seller_id_type="PERSON",
        seller_branch_country="FR",
        **_person(
            "seller", "FR19900214CLAIRDUBOI", "CONCAT", "CLAIRE", "DUBOIS", date(1990, 2, 14)
        ),
        short_selling_ind="SELL",
    ),
    # 4. Joint account: two account owners, the same branch country on both.
    "04_joint_account": _base(
        "QS1004",
        buyer_id_type="PERSON",
        **_person("buyer", "DK1503851234", "NIDN", "ANNA", "HANSEN", date(1985, 3, 15)),
        **_person("buyer2", "DEC01X00T47", "CCPT", "JONAS", "WEBER", date(1983, 7, 1)),
    ),
    # 5. Discretionary mandate: the firm decides for the client (DcsnMakr = firm LEI) and
    #    names its portfolio manager (InvstmtDcsnPrsn); an algorithm executes.
    "05_discretionary_account": _base(
        "QS1005",
        buyer_id_type="PERSON",
        **_person("buyer", "FR19700505LUCIEBERNA", "CONCAT", "LUCIE", "BERNARD", date(1970, 5, 5)),
        buyer_decision_maker_type="LEI",
        buyer_decision_maker_id=FIRM_LEI,
        investment_decision_type="PERSON",
        investment_decision_id="FR19750909PAUL#ROUX#",
        investment_decision_scheme="CONCAT",
        investment_decision_branch_country="FR",
        executing_person_type="ALGO",
        executing_person_id="SMARTROUTER3",
        executing_person_scheme=None,
        executing_person_branch_country=None,
    ),
    # 6. Power of attorney: a person decides for the selling client.
    "06_power_of_attorney": _base(
        "QS1006",
        buyer_id=CCP_LEI,
        buyer_branch_country=None,
        seller_id_type="PERSON",
        seller_branch_country="FR",
        **_person("seller", "FR19400101JEANNMOREA", "CONCAT", "JEANNE", "MOREAU", date(1940, 1, 1)),
        seller_decision_maker_type="PERSON",
        **_person(
            "seller_decision_maker",
            "FR19680823MARC#MOREA",
            "CONCAT",
            "MARC",
            "MOREAU",
            date(1968, 8, 23),
            scheme_key="scheme",
        ),
        short_selling_ind="SELL",
    ),
    # 7. Own account (DEAL, house account): algorithms decide and execute.
    "07_algo_deal_house": _base(
        "QS1007",
        trading_capacity="DEAL",
        buyer_id=FIRM_LEI,
        buyer_branch_country=None,
        investment_decision_type="ALGO",
        investment_decision_id="DECIDEALGO7",
        executing_person_type="ALGO",
        executing_person_id="EXECALGO12",
        executing_person_scheme=None,
        executing_person_branch_country=None,
    ),
    # 8. The client decides on the execution itself: ExctgPrsn/Clnt NORE.
    "08_client_executes_nore": _base(
        "QS1008",
        executing_person_type="CLIENT",
        executing_person_id=None,
        executing_person_scheme=None,
        executing_person_branch_country=None,
    ),
    # 9. The order was transmitted to the firm by another firm (RTS 22 Art. 4).
    "09_order_transmission": _base("QS1009", transmitting_firm_buyer_lei=TRANSMITTER_LEI),
    # 10. Matched principal, market side: the firm buys off venue from a counterparty bank
    #     (the client side is a second record, firm vs client); OTC post-trade indicators.
    "10_mtch_xoff_otc": _base(
        "QS1010M",
        leg="MARKET",
        trading_capacity="MTCH",
        buyer_id=FIRM_LEI,
        buyer_branch_country=None,
        venue="XOFF",
        venue_transaction_id=None,
        seller_id=COUNTERPARTY_LEI,
        otc_post_trade_ind="BENC SIZE",
    ),
    # 11. Short sale of a share by the firm's own account.
    "11_short_sale": _base(
        "QS1011",
        trading_capacity="DEAL",
        buyer_id=CCP_LEI,
        buyer_branch_country=None,
        seller_id=FIRM_LEI,
        short_selling_ind="SESH",
        investment_decision_type="ALGO",
        investment_decision_id="DECIDEALGO7",
    ),
    # 12. ETF traded under pre-trade transparency waivers on Xetra.
    "12_etf_waiver": _base(
        "QS1012",
        instrument_type="ETF",
        instrument_isin="IE00B4L5Y983",
        venue="XETR",
        venue_transaction_id="XETR20261126ETF0012",
        quantity=Decimal("2000"),
        price=Decimal("98.415"),
        waiver_ind="RFPT NLIQ",
    ),
    # 13. Bond bought off venue: nominal quantity, price in percent, net amount with
    #     accrued interest: 100000 x 99.125 / 100 + 1234.56 = 100359.56.
    "13_bond": _base(
        "QS1013",
        instrument_type="BOND",
        trading_capacity="DEAL",
        buyer_id=FIRM_LEI,
        buyer_branch_country=None,
        seller_id=COUNTERPARTY_LEI,
        venue="XOFF",
        venue_transaction_id=None,
        quantity_type="NMNL",
        quantity=Decimal("100000.0000"),
        quantity_currency="EUR",
        price_type="PCTG",
        price=Decimal("99.125000"),
        price_currency=None,
        net_amount=Decimal("100359.56"),
        instrument_isin="FR001400QS12",
        investment_decision_type="PERSON",
        investment_decision_id="FR19750909PAUL#ROUX#",
        investment_decision_scheme="CONCAT",
        investment_decision_branch_country="FR",
    ),
    # 14. Exchange-traded call option not (yet) in FIRDS: full description, no ISIN; one leg
    #     of a strategy (complex trade component id).
    "14_option_not_in_firds": _base(
        "QS1014",
        instrument_type="OPTION",
        venue="XEUR",
        venue_transaction_id="XEUR20261126OPT14",
        quantity=Decimal("10"),
        price=Decimal("4.350000"),
        complex_trade_id="STRAT20261126001",
        instrument_isin=None,
        instrument_in_firds=False,
        instrument_full_name="QSUITE SAP CALL 200 EUR DEC 2026",
        instrument_cfi="OCASPS",
        notional_currency="EUR",
        price_multiplier=Decimal("100.000000"),
        underlying_isin="DE0007164600",
        option_type="CALL",
        strike_price=Decimal("200.000000"),
        strike_currency="EUR",
        exercise_style="AMER",
        expiry_date=date(2026, 12, 18),
        delivery_type="PHYS",
    ),
    # 15. Three-month Euribor future not in FIRDS: the underlying is an index by name, with
    #     its term; the instrument has an ISIN.
    "15_future_not_in_firds": _base(
        "QS1015",
        instrument_type="FUTURE",
        trading_capacity="DEAL",
        buyer_id=FIRM_LEI,
        buyer_branch_country=None,
        venue="XEUR",
        venue_transaction_id="XEUR20261126FUT15",
        quantity=Decimal("25"),
        price=Decimal("97.845000"),
        instrument_isin="DE000QS0F000",
        instrument_in_firds=False,
        instrument_full_name="QSUITE 3M EURIBOR FUTURE MAR 2027",
        instrument_cfi="FFICSX",
        notional_currency="EUR",
        price_multiplier=Decimal("2500"),
        underlying_index_name="EURIBOR",
        underlying_index_term_unit="MNTH",
        underlying_index_term_value=3,
        expiry_date=date(2027, 3, 15),
        delivery_type="CASH",
        investment_decision_type="ALGO",
        investment_decision_id="DECIDEALGO7",
    ),
    # 16. Cancellation of case 1's report (the pipeline builds it from the ledger).
    "16_cancel": {
        "record_type": "CANC",
        "tx_id": "QS1001",
        "executing_entity_lei": FIRM_LEI,
        "submitting_entity_lei": FIRM_LEI,
    },
}

#: The header of every golden file.
HEADER_FIELDS = {
    "from_lei": FIRM_LEI,
    "to_country": "FR",
    "business_message_id": "MIFIR_RTS22-20261126-S001-P01",
    "created_at": datetime(2026, 11, 27, 0, 0, tzinfo=UTC),
}
