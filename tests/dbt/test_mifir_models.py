"""The MiFIR dbt models on a hand-made QSuite source, against hand-derived rows.

One module-scoped scenario lands hand-made rows in the warehouse's `raw` schema the way the
extract does (`_land`: reference tables whole, the run scope's executions and orders replaced by
key) and runs the real `dbt build` on its own database, keeping a snapshot after each step:

1. land and build 2026-03-09 (two trades of that day);
2. the source corrects one of them and busts the other on 2026-03-10; land and build the 10th
   (the two changed trades are in the 10th's scope: executed before, updated in the period);
3. the same build again (idempotence);
4. land and build the 9th again (must not touch the rows of the 10th);
5. the DAG's split run for the 10th: `+int_mifir__transactions`, then the rule gate's
   violations (written here by hand), then only the two report models.

Every expected value is derived by hand from the rows in `_SOURCE_SQL` (comments show how).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from regreport.identifiers import (
    concat_national_id,
    is_valid_isin,
    is_valid_lei,
    isin_with_check_digit,
    lei_with_check_digits,
    spanish_dni,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

REPO = Path(__file__).resolve().parents[2]
DBT_DIR = REPO / "dbt_project"
DBT = REPO / ".venv" / "bin" / "dbt"
SCHEMA_SQL = REPO / "plugins" / "regreport" / "sql" / "qsuite_schema.sql"

# One database: the hand-made source lives in its `qsuite` schema, `_land` copies it to `raw`.
WH_DB = "regreport_dbt_mifir_wh"

DAY = date(2026, 3, 10)
PREV_DAY = date(2026, 3, 9)

# ----- identifiers of the hand-made source (check digits derived, and asserted below) -----

FIRM_LEI = "QSUITEFIRM0000000017"
CLIENT_LEI = "CLIENTFUND0000000092"
CCP_LEI = "CCPCLEARING000000084"
DISC_LEI = lei_with_check_digits("DISCRETIONFUND0000")
POA_CLIENT_LEI = lei_with_check_digits("POACLIENTLEGAL0000")
POA_LEI = lei_with_check_digits("POAMANAGER00000000")
OTC_LEI = lei_with_check_digits("OTCDEALERBANK00000")
TRANSMITTER_LEI = lei_with_check_digits("TRANSMITBROKER0000")

SAP = "DE0007164600"
TOTAL = "FR0000120271"
ETF_ISIN = isin_with_check_digit("IE00B4L5Y98")
BUND_ISIN = isin_with_check_digit("DE000BU2Z03")
CORP_ISIN = isin_with_check_digit("FR001400ABC")
CALL_ISIN = isin_with_check_digit("DE000C0PT13")
FUT_ISIN = isin_with_check_digit("DE000F0TTE9")
BAD_OPT_ISIN = isin_with_check_digit("DE000C0PT99")
LISTED_OPT_ISIN = isin_with_check_digit("DE000C0PT55")

# Spanish DNI 12345678: 12345678 mod 23 = 14 -> control letter 'Z'; NIDN = ES + DNI.
TRADER_NIDN = "ES12345678Z"
# RTS 22 Art. 6 CONCAT = nationality + birth date + 5 letters of first name + 5 of surname,
# '#'-padded: e.g. Marie Dupont, FR, 1980-05-17 -> FR 19800517 MARIE DUPON.
MARIE = ("Marie", "Dupont", date(1980, 5, 17))
MARIE_ID = "FR19800517MARIEDUPON"
# Anna Schmidt, DE, 1985-07-01 -> DE 19850701 ANNA# SCHMI (decision trader).
ANNA = ("Anna", "Schmidt", date(1985, 7, 1))
ANNA_ID = "DE19850701ANNA#SCHMI"
PAUL = ("Paul", "Martin", date(1970, 2, 3))  # FR19700203PAUL#MARTI: joint account, 1st
PAUL_ID = "FR19700203PAUL#MARTI"
CLAIRE = ("Claire", "Martin", date(1972, 4, 5))  # FR19720405CLAIRMARTI: joint account, 2nd
CLAIRE_ID = "FR19720405CLAIRMARTI"
SOPHIE = ("Sophie", "Bernard", date(1990, 11, 12))  # FR19901112SOPHIBERNA: POA client
SOPHIE_ID = "FR19901112SOPHIBERNA"
JEAN = ("Jean", "Leroy", date(1960, 9, 10))  # FR19600910JEAN#LEROY: holds the POA
JEAN_ID = "FR19600910JEAN#LEROY"
EVA_ID = "DE19820304EVA##WEBER"  # Eva Weber, DE, 1982-03-04: joint account with a bad 2nd
LENA_ID = "DE20100607LENA#WEBER"  # Lena Weber, DE, 2010-06-07: a third joint holder
LOUIS_ID = "FR19500101LOUISPETIT"  # Louis Petit, FR, 1950-01-01: POA person without birth

_SOURCE_SQL = f"""
insert into qsuite.firm values (1, '{FIRM_LEI}', 'QSuite Securities AG', 'DE', true);

insert into qsuite.venues values
    ('XCCP', 'XCCP', 'Cleared Exchange', 'DE', '{CCP_LEI}'),
    ('XMTF', 'XMTF', 'Uncleared MTF', 'FR', null);

insert into qsuite.accounts
    (account_id, account_type, is_house, lei, legal_name, first_name, surname, birth_date,
     nationality, national_id, national_id_type, branch_country, mandate, poa_lei,
     poa_first_name, poa_surname, poa_birth_date, poa_national_id, poa_national_id_type,
     opened_at)
values
    ('ACC-LEGAL', 'LEGAL', false, '{CLIENT_LEI}', 'Client Fund SA', null, null, null,
     null, null, null, 'LU', 'EXECUTION_ONLY', null, null, null, null, null, null,
     '2020-01-01Z'),
    ('ACC-NAT', 'NATURAL', false, null, null, 'Marie', 'Dupont', '1980-05-17',
     'FR', '{MARIE_ID.lower()}', 'CONCAT', 'BE', 'EXECUTION_ONLY', null, null, null, null,
     null, null, '2020-01-01Z'),
    ('ACC-HOUSE', 'LEGAL', true, '{FIRM_LEI}', 'QSuite Securities AG', null, null, null,
     null, null, null, 'DE', 'EXECUTION_ONLY', null, null, null, null, null, null,
     '2020-01-01Z'),
    ('ACC-DISC', 'LEGAL', false, '{DISC_LEI}', 'Discretion Fund', null, null, null,
     null, null, null, 'DE', 'DISCRETIONARY', null, null, null, null, null, null,
     '2020-01-01Z'),
    ('ACC-JOINT', 'NATURAL', false, null, null, 'Paul', 'Martin', '1970-02-03',
     'FR', '{PAUL_ID}', 'CONCAT', 'FR', 'DISCRETIONARY', null, null, null, null, null,
     null, '2020-01-01Z'),
    ('ACC-POA-P', 'NATURAL', false, null, null, 'Sophie', 'Bernard', '1990-11-12',
     'FR', '{SOPHIE_ID}', 'CONCAT', 'FR', 'POWER_OF_ATTORNEY', null, 'Jean', 'Leroy',
     '1960-09-10', '{JEAN_ID}', 'CONCAT', '2020-01-01Z'),
    ('ACC-POA-L', 'LEGAL', false, '{POA_CLIENT_LEI}', 'Managed Fund', null, null, null,
     null, null, null, 'IT', 'POWER_OF_ATTORNEY', '{POA_LEI}', null, null, null, null,
     null, '2020-01-01Z'),
    ('ACC-JOINT-BAD', 'NATURAL', false, null, null, 'Eva', 'Weber', '1982-03-04',
     'DE', '{EVA_ID}', 'CONCAT', 'DE', 'EXECUTION_ONLY', null, null, null, null, null,
     null, '2020-01-01Z'),
    ('ACC-POA-BAD', 'NATURAL', false, null, null, 'Louis', 'Petit', '1950-01-01',
     'FR', '{LOUIS_ID}', 'CONCAT', 'FR', 'POWER_OF_ATTORNEY', null, 'Jean', 'Leroy',
     null, '{JEAN_ID}', 'CONCAT', '2020-01-01Z');

insert into qsuite.account_joint_holders values
    ('ACC-JOINT', 2, 'Claire', 'Martin', '1972-04-05', 'FR', '{CLAIRE_ID}', 'CONCAT'),
    ('ACC-JOINT-BAD', 2, 'Otto', 'Weber', '1981-01-01', 'DE', '  ', 'CONCAT'),
    ('ACC-JOINT-BAD', 3, 'Lena', 'Weber', '2010-06-07', 'DE', '{LENA_ID}', 'CONCAT');

insert into qsuite.traders values
    ('TR1', 'Pablo', 'Garcia', '1975-01-02', 'ES', '{TRADER_NIDN}', 'NIDN', 'DE'),
    ('TR2', 'Anna', 'Schmidt', '1985-07-01', 'DE', '{ANNA_ID}', 'CONCAT', 'FR');

insert into qsuite.algos values ('VWAP01', 'VWAP v1');

insert into qsuite.instruments
    (instrument_id, isin, cfi, full_name, currency, primary_mic, instrument_type, tick_size,
     reference_price, in_firds, price_notation, quantity_notation, notional_currency,
     is_sovereign, maturity_date, expiry_date, underlying_isin, option_type, strike_price,
     strike_currency, exercise_style, delivery_type, price_multiplier)
values
    (1, '{SAP}', 'ESVUFR', 'SAP SE', 'EUR', 'XCCP', 'SHARE', 0.01, 120, true, 'MONE',
     'UNIT', null, false, null, null, null, null, null, null, null, null, null),
    (2, '{TOTAL}', 'ESVUFR', 'TotalEnergies SE', 'EUR', 'XMTF', 'SHARE', 0.01, 60, true,
     'MONE', 'UNIT', null, false, null, null, null, null, null, null, null, null, null),
    (3, '{ETF_ISIN}', 'CEOGLS', 'World Equity UCITS ETF', 'EUR', 'XCCP', 'ETF', 0.01, 80,
     true, 'MONE', 'UNIT', null, false, null, null, null, null, null, null, null, null,
     null),
    (4, '{BUND_ISIN}', 'DBFTFB', 'Bund 2.5% 2035', 'EUR', 'XCCP', 'BOND', 0.001, 100,
     false, 'PERC', 'NOML', 'EUR', true, '2035-02-15', null, null, null, null, null, null,
     null, null),
    (5, '{CALL_ISIN}', 'OCEPSN', 'SAP CALL 130 JUN26', 'EUR', 'XCCP', 'OPTION', 0.01, 4,
     false, 'MONE', 'UNIT', null, false, null, '2026-06-19', '{SAP}', 'CALL', 130, 'EUR',
     'EURO', 'PHYS', 100),
    (6, '{FUT_ISIN}', 'FFSCSX', 'TTE FUT SEP26', 'EUR', 'XMTF', 'FUTURE', 0.5, 7850, false,
     'MONE', 'UNIT', null, false, null, '2026-09-18', '{TOTAL}', null, null, null, null,
     'CASH', 10),
    (7, null, 'JFTXXP', 'EUR/USD spot', 'USD', 'XCCP', 'FX_SPOT', 0.0001, 1.08, true,
     'MONE', 'UNIT', null, false, null, null, null, null, null, null, null, null, null),
    (8, '{CORP_ISIN}', 'DBFTFB', 'Corp 4% 2030', 'EUR', 'XCCP', 'BOND', 0.001, 100, true,
     'PERC', 'NOML', 'EUR', false, '2030-01-01', null, null, null, null, null, null, null,
     null),
    (9, '{BAD_OPT_ISIN}', 'OCEPSN', 'SAP CALL ??? JUN26', 'EUR', 'XCCP', 'OPTION', 0.01, 4,
     false, 'MONE', 'UNIT', null, false, null, '2026-06-19', '{SAP}', 'CALL', null, 'EUR',
     'EURO', 'PHYS', 100),
    (10, '{LISTED_OPT_ISIN}', 'OPEPSN', 'SAP PUT 110 JUN26', 'EUR', 'XCCP', 'OPTION', 0.01,
     2, true, 'MONE', 'UNIT', null, false, null, '2026-06-19', '{SAP}', 'PUTO', 110, 'EUR',
     'EURO', 'PHYS', 100);

insert into qsuite.orders
    (order_id, account_id, instrument_id, trader_id, algo_id, decision_trader_id,
     client_executes, transmitted_by_lei, short_selling_ind, side, order_type, limit_price,
     quantity, time_in_force, status, created_at, updated_at)
values
    (201, 'ACC-LEGAL', 1, null, 'VWAP01', null, false, null, null, 'BUY', 'MARKET', null,
     100, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T09:30Z'),
    (202, 'ACC-NAT', 2, 'TR1', null, null, false, null, 'SESH', 'SELL', 'LIMIT', 61.2,
     25.5, 'GTC', 'FILLED', '2026-03-09T15:00Z', '2026-03-10T11:15Z'),
    (203, 'ACC-HOUSE', 3, 'TR1', null, 'TR2', false, null, null, 'BUY', 'LIMIT', 80.1,
     40, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T10:00Z'),
    (204, 'ACC-DISC', 4, null, 'VWAP01', null, false, null, 'SELL', 'SELL', 'LIMIT', 101,
     150000, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T10:30Z'),
    (205, 'ACC-JOINT', 5, 'TR1', null, 'TR2', false, '{TRANSMITTER_LEI}', null, 'BUY',
     'LIMIT', 4.3, 3, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T11:00Z'),
    (206, 'ACC-POA-P', 6, 'TR1', null, null, true, null, 'SESH', 'SELL', 'MARKET', null,
     2, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T11:30Z'),
    (207, 'ACC-POA-L', 8, null, 'VWAP01', null, false, '{TRANSMITTER_LEI}', null, 'BUY',
     'LIMIT', 99, 20000, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T12:00Z'),
    (208, 'ACC-LEGAL', 10, null, 'VWAP01', null, false, null, 'SESH', 'SELL', 'MARKET',
     null, 5, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T12:30Z'),
    (209, 'ACC-HOUSE', 1, null, 'VWAP01', null, false, null, 'SSEX', 'SELL', 'MARKET',
     null, 10, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T13:00Z'),
    (210, 'ACC-LEGAL', 7, null, 'VWAP01', null, false, null, null, 'BUY', 'MARKET', null,
     1000000, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T13:30Z'),
    (211, 'ACC-LEGAL', 1, null, 'VWAP01', null, false, null, null, 'BUY', 'MARKET', null,
     7, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T14:00Z'),
    (212, 'ACC-LEGAL', 1, null, 'VWAP01', null, false, null, null, 'BUY', 'MARKET', null,
     8, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T14:30Z'),
    (213, 'ACC-POA-P', 1, 'TR1', null, null, false, '{TRANSMITTER_LEI}', 'SESH', 'SELL',
     'LIMIT', 124.5, 12, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T14:50Z'),
    (220, 'ACC-JOINT-BAD', 9, 'TR1', null, null, false, null, null, 'BUY', 'MARKET', null,
     1, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T15:00Z'),
    (221, 'ACC-POA-BAD', 2, 'TR1', null, null, false, null, null, 'SELL', 'MARKET', null,
     4, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T15:30Z'),
    (222, 'ACC-HOUSE', 1, 'TR1', null, null, false, null, null, 'BUY', 'MARKET', null,
     6, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T16:00Z'),
    (223, 'ACC-LEGAL', 2, null, 'VWAP01', null, false, null, null, 'BUY', 'MARKET', null,
     9, 'DAY', 'FILLED', '2026-03-10T08:00Z', '2026-03-10T16:30Z'),
    (230, 'ACC-LEGAL', 1, null, 'VWAP01', null, false, null, null, 'BUY', 'MARKET', null,
     50, 'DAY', 'FILLED', '2026-03-09T09:00Z', '2026-03-09T10:00Z'),
    (231, 'ACC-LEGAL', 2, null, 'VWAP01', null, false, null, null, 'BUY', 'MARKET', null,
     10, 'DAY', 'FILLED', '2026-03-09T09:00Z', '2026-03-09T11:00Z');

insert into qsuite.executions
    (execution_id, order_id, executed_at, quantity, price, currency, venue_mic,
     venue_transaction_id, trading_capacity, exec_kind, counterparty_lei,
     member_branch_country, accrued_interest, complex_trade_id, waiver_ind,
     otc_post_trade_ind, status, version, updated_at)
values
    (2001, 201, '2026-03-10T09:30:00.123456Z', 100, 123.45, 'EUR', 'XCCP', 'abc123', 'AOTC',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T09:30:00.123456Z'),
    (2002, 202, '2026-03-10T12:15:30+01:00', 25.5, 61.2, 'EUR', 'XMTF', null, 'AOTC',
     'TRADE', null, 'FR', null, null, 'RFPT NLIQ', null, 'LIVE', 1,
     '2026-03-10T11:15:30Z'),
    (2003, 203, '2026-03-10T10:00:00Z', 40, 80.1, 'EUR', 'XCCP', 'xccp0003', 'DEAL',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T10:00:00Z'),
    (2004, 204, '2026-03-10T10:30:00Z', 150000, 101.234567, 'EUR', 'XOFF', 'otc-1', 'AOTC',
     'TRADE', '{OTC_LEI}', null, 987.65, null, null, 'BENC', 'LIVE', 1,
     '2026-03-10T10:30:00Z'),
    (2005, 205, '2026-03-10T11:00:00Z', 3, 4.25, 'EUR', 'XCCP', 'opt-5', 'AOTC',
     'TRADE', null, null, null, 'STRAT1', null, null, 'LIVE', 1, '2026-03-10T11:00:00Z'),
    (2006, 206, '2026-03-10T11:30:00Z', 2, 7850.5, 'EUR', 'XMTF', null, 'AOTC',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T11:30:00Z'),
    (2007, 207, '2026-03-10T12:00:00Z', 20000, 98.5, 'EUR', 'XCCP', null, 'AOTC',
     'TRADE', null, null, 150.00, null, null, null, 'LIVE', 1, '2026-03-10T12:00:00Z'),
    (2008, 208, '2026-03-10T12:30:00Z', 5, 2.1, 'EUR', 'XCCP', null, 'AOTC',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T12:30:00Z'),
    (2009, 209, '2026-03-10T13:00:00Z', 10, 124, 'EUR', 'XCCP', null, 'DEAL',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T13:00:00Z'),
    (2010, 210, '2026-03-10T13:30:00Z', 1000000, 1.0845, 'USD', 'XOFF', null, 'AOTC',
     'TRADE', '{OTC_LEI}', null, null, null, null, null, 'LIVE', 1,
     '2026-03-10T13:30:00Z'),
    (2011, 211, '2026-03-10T14:00:00Z', 7, 123, 'EUR', 'XCCP', null, 'AOTC',
     'INTERNAL_TRANSFER', null, null, null, null, null, null, 'LIVE', 1,
     '2026-03-10T14:00:00Z'),
    (2012, 212, '2026-03-10T14:30:00Z', 8, 123, 'EUR', 'XCCP', null, 'AOTC',
     'TRADE', null, null, null, null, null, null, 'CANCELLED', 2, '2026-03-10T14:45:00Z'),
    (2013, 213, '2026-03-10T14:50:00Z', 12, 124.5, 'EUR', 'XMTF', 'mtf-13', 'MTCH',
     'TRADE', null, 'FR', null, null, 'RFPT', null, 'LIVE', 1, '2026-03-10T14:50:00Z'),
    (2020, 220, '2026-03-10T15:00:00Z', 1, 4.3, 'EUR', 'XCCP', null, 'AOTC',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T15:00:00Z'),
    (2021, 221, '2026-03-10T15:30:00Z', 4, 60.5, 'EUR', 'XOFF', null, 'AOTC',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T15:30:00Z'),
    (2022, 222, '2026-03-10T16:00:00Z', 6, 122, 'EUR', 'XCCP', null, 'DEAL',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T16:00:00Z'),
    (2023, 223, '2026-03-10T16:30:00Z', 9, 61, 'EUR', 'XOFF', null, 'MTCH',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-10T16:30:00Z'),
    (2030, 230, '2026-03-09T10:00:00Z', 50, 120, 'EUR', 'XCCP', null, 'AOTC',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-09T10:00:00Z'),
    (2031, 231, '2026-03-09T11:00:00Z', 10, 60, 'EUR', 'XMTF', null, 'AOTC',
     'TRADE', null, null, null, null, null, null, 'LIVE', 1, '2026-03-09T11:00:00Z');
"""

# On the 10th the source corrects 2030's price (a late amendment) and busts 2031; each change
# bumps version and updated_at, which puts both in the 10th's run scope.
_CORRECTIONS_SQL = """
update qsuite.executions
set price = 121.5, version = 2, updated_at = '2026-03-10T08:00:00Z'
where execution_id = 2030;
update qsuite.executions
set status = 'CANCELLED', version = 2, updated_at = '2026-03-10T09:00:00Z'
where execution_id = 2031;
"""

# ----- the report contract (docs/reporting/mifir/report-columns.md), in table order ---------


def _words(text: str) -> list[str]:
    return text.split()


REPORT_COLUMNS = _words(
    "record_type tx_id execution_id leg trading_date instrument_type venue_transaction_id "
    "executing_entity_lei investment_firm_ind submitting_entity_lei "
    "buyer_id_type buyer_id buyer_id_scheme buyer_first_name buyer_surname buyer_birth_date "
    "buyer_branch_country buyer2_id buyer2_id_scheme buyer2_first_name buyer2_surname "
    "buyer2_birth_date buyer_decision_maker_type buyer_decision_maker_id "
    "buyer_decision_maker_scheme buyer_decision_maker_first_name buyer_decision_maker_surname "
    "buyer_decision_maker_birth_date "
    "seller_id_type seller_id seller_id_scheme seller_first_name seller_surname "
    "seller_birth_date seller_branch_country seller2_id seller2_id_scheme seller2_first_name "
    "seller2_surname seller2_birth_date seller_decision_maker_type seller_decision_maker_id "
    "seller_decision_maker_scheme seller_decision_maker_first_name "
    "seller_decision_maker_surname seller_decision_maker_birth_date "
    "transmission_ind transmitting_firm_buyer_lei transmitting_firm_seller_lei "
    "trading_datetime trading_capacity quantity_type quantity quantity_currency "
    "deriv_notional_change price_type price price_currency net_amount venue "
    "country_of_branch upfront_payment upfront_payment_currency complex_trade_id "
    "instrument_isin instrument_in_firds instrument_full_name instrument_cfi "
    "notional_currency notional_currency_2 price_multiplier underlying_isin "
    "underlying_index_name underlying_index_term_unit underlying_index_term_value "
    "option_type strike_price strike_currency exercise_style maturity_date expiry_date "
    "delivery_type investment_decision_type investment_decision_id investment_decision_scheme "
    "investment_decision_branch_country executing_person_type executing_person_id "
    "executing_person_scheme executing_person_branch_country waiver_ind short_selling_ind "
    "otc_post_trade_ind commodity_derivative_ind securities_financing_ind extract_run_id"
)

QUARANTINE_COLUMNS = [
    "execution_id",
    "order_id",
    "trading_date",
    "executed_at",
    "reason_codes",
    "reason_code",
    "reason_text",
    "source_row",
    "source_rows",
    "extract_run_id",
]

# ----- hand-derived report rows -----------------------------------------------------------


def _utc(day: date, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=UTC)


def _person(prefix: str, person: tuple[str, str, date], national_id: str) -> dict[str, Any]:
    first, surname, birth = person
    return {
        f"{prefix}_id": national_id,
        f"{prefix}_id_scheme": "CONCAT",
        f"{prefix}_first_name": first,
        f"{prefix}_surname": surname,
        f"{prefix}_birth_date": birth,
    }


def _row(execution_id: int, at: datetime, **fields: Any) -> dict[str, Any]:
    """A report row: every column NULL unless the case sets it, plus what every row shares."""
    return {
        **dict.fromkeys(REPORT_COLUMNS),
        "record_type": "NEWT",
        "tx_id": f"QS{execution_id}",
        "execution_id": execution_id,
        "trading_date": at.date(),
        "trading_datetime": at,
        "executing_entity_lei": FIRM_LEI,
        "investment_firm_ind": True,
        "submitting_entity_lei": FIRM_LEI,
        "transmission_ind": False,
        "securities_financing_ind": False,
        "instrument_in_firds": True,
        "trading_capacity": "AOTC",
        "quantity_type": "UNIT",
        "price_type": "MNTRY",
        "price_currency": "EUR",
        "extract_run_id": "R1",
        **fields,
    }


_ALGO_EXECUTES = {"executing_person_type": "ALGO", "executing_person_id": "VWAP01"}
_TRADER_EXECUTES = {
    "executing_person_type": "PERSON",
    "executing_person_id": TRADER_NIDN,
    "executing_person_scheme": "NIDN",
    "executing_person_branch_country": "DE",  # TR1's branch
}
_ANNA_DECIDES = {
    "investment_decision_type": "PERSON",
    "investment_decision_id": ANNA_ID,
    "investment_decision_scheme": "CONCAT",
    "investment_decision_branch_country": "FR",  # TR2's branch, not her nationality DE
}
_ALGO_DECIDES = {"investment_decision_type": "ALGO", "investment_decision_id": "VWAP01"}
_CCP_SELLS = {"seller_id_type": "LEI", "seller_id": CCP_LEI}
_CCP_BUYS = {"buyer_id_type": "LEI", "buyer_id": CCP_LEI}

# 2001: share, LEGAL execution-only client buys via the algo on the CCP venue: buyer = client
# LEI with its branch LU; seller = the venue's CCP; nobody decides for the client; the venue's
# id upper-cased.
ROW_2001 = _row(
    2001,
    _utc(DAY, 9, 30, 0, 123456),
    instrument_type="SHARE",
    venue_transaction_id="ABC123",
    buyer_id_type="LEI",
    buyer_id=CLIENT_LEI,
    buyer_branch_country="LU",
    **_CCP_SELLS,
    quantity=Decimal("100.0000"),
    price=Decimal("123.450000"),
    venue="XCCP",
    instrument_isin=SAP,
    **_ALGO_EXECUTES,
)

# 2002: share, natural person (CONCAT, stored lower-case: upper-cased) sells through the
# trader on the MTF without CCP: buyer = the MIC; seller branch BE (the account's, not the
# nationality FR); short sale SESH (share, client sells); venue membership through the FR
# branch; waivers as given. 12:15:30+01:00 = 11:15:30Z.
ROW_2002 = _row(
    2002,
    _utc(DAY, 11, 15, 30),
    instrument_type="SHARE",
    buyer_id_type="MIC",
    buyer_id="XMTF",
    seller_id_type="PERSON",
    **_person("seller", MARIE, MARIE_ID),
    seller_branch_country="BE",
    quantity=Decimal("25.5000"),
    price=Decimal("61.200000"),
    venue="XMTF",
    country_of_branch="FR",
    instrument_isin=TOTAL,
    **_TRADER_EXECUTES,
    waiver_ind="RFPT NLIQ",
    short_selling_ind="SESH",
)

# 2003: ETF, house account buys: buyer = the firm's LEI, no branch (clients only); the
# decision trader TR2 decides (field 57), TR1 executes (field 59); no client decision maker.
ROW_2003 = _row(
    2003,
    _utc(DAY, 10),
    instrument_type="ETF",
    venue_transaction_id="XCCP0003",
    buyer_id_type="LEI",
    buyer_id=FIRM_LEI,
    **_CCP_SELLS,
    trading_capacity="DEAL",
    quantity=Decimal("40.0000"),
    price=Decimal("80.100000"),
    venue="XCCP",
    instrument_isin=ETF_ISIN,
    **_ANNA_DECIDES,
    **_TRADER_EXECUTES,
)

# 2004: sovereign bond not in FIRDS, discretionary LEGAL client sells off venue (XOFF):
# buyer = the counterparty's LEI; the venue id is dropped off venue; seller decision maker =
# the firm (discretionary mandate); no decision trader, so the algo decides and executes.
# Nominal quantity in EUR, price in % of nominal (no price currency).
# Net amount = 150000 x 101.234567 / 100 + 987.65 = 151851.8505 + 987.65 = 152839.5005
# -> rounded to 2 decimals: 152839.50. Short sale SELL (sovereign bond, client sells).
ROW_2004 = _row(
    2004,
    _utc(DAY, 10, 30),
    instrument_type="BOND",
    buyer_id_type="LEI",
    buyer_id=OTC_LEI,
    seller_id_type="LEI",
    seller_id=DISC_LEI,
    seller_branch_country="DE",
    seller_decision_maker_type="LEI",
    seller_decision_maker_id=FIRM_LEI,
    quantity_type="NMNL",
    quantity=Decimal("150000.0000"),
    quantity_currency="EUR",
    price_type="PCTG",
    price=Decimal("101.234567"),
    price_currency=None,
    net_amount=Decimal("152839.50"),
    venue="XOFF",
    instrument_isin=BUND_ISIN,
    instrument_in_firds=False,
    instrument_full_name="Bund 2.5% 2035",
    instrument_cfi="DBFTFB",
    notional_currency="EUR",
    maturity_date=date(2035, 2, 15),
    **_ALGO_DECIDES,
    **_ALGO_EXECUTES,
    short_selling_ind="SELL",
    otc_post_trade_ind="BENC",
)

# 2005: option not in FIRDS, joint discretionary account buys, order transmitted by another
# firm: buyer = first holder Paul, buyer2 = second holder Claire (branch FR for both, one
# column); buyer decision maker = the firm; TR2 decides, TR1 executes; the transmitter on the
# buy side; fields 42-56 of an option (notional currency = the instrument's EUR).
ROW_2005 = _row(
    2005,
    _utc(DAY, 11),
    instrument_type="OPTION",
    venue_transaction_id="OPT-5",
    buyer_id_type="PERSON",
    **_person("buyer", PAUL, PAUL_ID),
    buyer_branch_country="FR",
    **_person("buyer2", CLAIRE, CLAIRE_ID),
    buyer_decision_maker_type="LEI",
    buyer_decision_maker_id=FIRM_LEI,
    **_CCP_SELLS,
    transmitting_firm_buyer_lei=TRANSMITTER_LEI,
    quantity=Decimal("3.0000"),
    price=Decimal("4.250000"),
    venue="XCCP",
    complex_trade_id="STRAT1",
    instrument_isin=CALL_ISIN,
    instrument_in_firds=False,
    instrument_full_name="SAP CALL 130 JUN26",
    instrument_cfi="OCEPSN",
    notional_currency="EUR",
    price_multiplier=Decimal("100.000000"),
    underlying_isin=SAP,
    option_type="CALL",
    strike_price=Decimal("130.000000"),
    strike_currency="EUR",
    exercise_style="EURO",
    expiry_date=date(2026, 6, 19),
    delivery_type="PHYS",
    **_ANNA_DECIDES,
    **_TRADER_EXECUTES,
)

# 2006: future not in FIRDS, natural client under a power of attorney held by a person sells
# and executes itself (DEA): seller = Sophie, seller decision maker = Jean (PERSON, CONCAT,
# names, birth date); executor = CLIENT (NORE); the firm does not decide (field 57 empty);
# the order's SESH is dropped (a future is neither a share nor sovereign debt).
ROW_2006 = _row(
    2006,
    _utc(DAY, 11, 30),
    instrument_type="FUTURE",
    buyer_id_type="MIC",
    buyer_id="XMTF",
    seller_id_type="PERSON",
    **_person("seller", SOPHIE, SOPHIE_ID),
    seller_branch_country="FR",
    seller_decision_maker_type="PERSON",
    seller_decision_maker_id=JEAN_ID,
    seller_decision_maker_scheme="CONCAT",
    seller_decision_maker_first_name="Jean",
    seller_decision_maker_surname="Leroy",
    seller_decision_maker_birth_date=JEAN[2],
    quantity=Decimal("2.0000"),
    price=Decimal("7850.500000"),
    venue="XMTF",
    instrument_isin=FUT_ISIN,
    instrument_in_firds=False,
    instrument_full_name="TTE FUT SEP26",
    instrument_cfi="FFSCSX",
    notional_currency="EUR",
    price_multiplier=Decimal("10.000000"),
    underlying_isin=TOTAL,
    expiry_date=date(2026, 9, 18),
    delivery_type="CASH",
    executing_person_type="CLIENT",
    executing_person_id="NORE",
)

# 2007: corporate bond in FIRDS, LEGAL client under a power of attorney held by a firm buys,
# order transmitted: buyer decision maker = the POA holder's LEI; nominal quantity, % price;
# net amount = 20000 x 98.5 / 100 + 150.00 = 19700 + 150 = 19850.00; in FIRDS, so no
# maturity date or other instrument fields; a buy: no short selling indicator.
ROW_2007 = _row(
    2007,
    _utc(DAY, 12),
    instrument_type="BOND",
    buyer_id_type="LEI",
    buyer_id=POA_CLIENT_LEI,
    buyer_branch_country="IT",
    buyer_decision_maker_type="LEI",
    buyer_decision_maker_id=POA_LEI,
    **_CCP_SELLS,
    transmitting_firm_buyer_lei=TRANSMITTER_LEI,
    quantity_type="NMNL",
    quantity=Decimal("20000.0000"),
    quantity_currency="EUR",
    price_type="PCTG",
    price=Decimal("98.500000"),
    price_currency=None,
    net_amount=Decimal("19850.00"),
    venue="XCCP",
    instrument_isin=CORP_ISIN,
    **_ALGO_EXECUTES,
)

# 2008: option in FIRDS, LEGAL client sells: ISIN only (fields 42-56 empty); the order's SESH
# is dropped (options are out of field 62); buyer = the CCP.
ROW_2008 = _row(
    2008,
    _utc(DAY, 12, 30),
    instrument_type="OPTION",
    **_CCP_BUYS,
    seller_id_type="LEI",
    seller_id=CLIENT_LEI,
    seller_branch_country="LU",
    quantity=Decimal("5.0000"),
    price=Decimal("2.100000"),
    venue="XCCP",
    instrument_isin=LISTED_OPT_ISIN,
    **_ALGO_EXECUTES,
)

# 2009: house sells a share through the algo: seller = the firm (no branch); the algo decides
# (no decision trader) and executes; the firm's short sale SSEX is reported.
ROW_2009 = _row(
    2009,
    _utc(DAY, 13),
    instrument_type="SHARE",
    **_CCP_BUYS,
    seller_id_type="LEI",
    seller_id=FIRM_LEI,
    trading_capacity="DEAL",
    quantity=Decimal("10.0000"),
    price=Decimal("124.000000"),
    venue="XCCP",
    instrument_isin=SAP,
    **_ALGO_DECIDES,
    **_ALGO_EXECUTES,
    short_selling_ind="SSEX",
)


# 2013: matched principal (MTCH): a natural client under a power of attorney held by a person
# (Sophie, Jean decides) sells SAP through the trader on the MTF without CCP, the order
# transmitted by another firm, short sale SESH. ESMA's guidelines (ESMA/2016/1452, recalled)
# want two records, both with capacity MTCH, same time, quantity 12 and price 124.5:
# - client leg QS2013: the firm (its LEI) buys from Sophie off venue (XOFF): seller = Sophie
#   with her branch FR, Jean as seller decision maker and the transmitter on the sell side; no
#   venue id, venue member branch or waiver; her SESH (share, the client sells).
SOPHIE_SELLS_VIA_JEAN = {
    "seller_id_type": "PERSON",
    **_person("seller", SOPHIE, SOPHIE_ID),
    "seller_branch_country": "FR",
    "seller_decision_maker_type": "PERSON",
    "seller_decision_maker_id": JEAN_ID,
    "seller_decision_maker_scheme": "CONCAT",
    "seller_decision_maker_first_name": "Jean",
    "seller_decision_maker_surname": "Leroy",
    "seller_decision_maker_birth_date": JEAN[2],
}
_MTCH_2013 = {
    "trading_capacity": "MTCH",
    "instrument_type": "SHARE",
    "quantity": Decimal("12.0000"),
    "price": Decimal("124.500000"),
    "instrument_isin": SAP,
    **_TRADER_EXECUTES,
}
ROW_2013_CLIENT = _row(
    2013,
    _utc(DAY, 14, 50),
    leg="CLIENT",
    buyer_id_type="LEI",
    buyer_id=FIRM_LEI,
    **SOPHIE_SELLS_VIA_JEAN,
    transmitting_firm_seller_lei=TRANSMITTER_LEI,
    venue="XOFF",
    short_selling_ind="SESH",
    **_MTCH_2013,
)
# - market leg QS2013M: the firm sells to the MTF: buyer = the MIC (no CCP), seller = the firm's
#   LEI with no client detail, decision maker or transmitter; the venue's id upper-cased, the
#   FR member branch and the RFPT waiver as executed; the firm's sale is covered by its
#   simultaneous purchase from Sophie, so field 62 is SELL (no short sale).
ROW_2013_MARKET = _row(
    2013,
    _utc(DAY, 14, 50),
    tx_id="QS2013M",
    leg="MARKET",
    venue_transaction_id="MTF-13",
    buyer_id_type="MIC",
    buyer_id="XMTF",
    seller_id_type="LEI",
    seller_id=FIRM_LEI,
    venue="XMTF",
    country_of_branch="FR",
    waiver_ind="RFPT",
    short_selling_ind="SELL",
    **_MTCH_2013,
)


def _row_2030(price: str, run_id: str) -> dict[str, Any]:
    # 2030: executed on the 9th (LEGAL client buys SAP via the algo); the 10th's correction
    # changes only the price, so the row keeps trading date the 9th.
    return _row(
        2030,
        _utc(PREV_DAY, 10),
        instrument_type="SHARE",
        buyer_id_type="LEI",
        buyer_id=CLIENT_LEI,
        buyer_branch_country="LU",
        **_CCP_SELLS,
        quantity=Decimal("50.0000"),
        price=Decimal(price),
        venue="XCCP",
        instrument_isin=SAP,
        **_ALGO_EXECUTES,
        extract_run_id=run_id,
    )


# 2031 on the 9th, before the bust: LEGAL client buys TOTAL via the algo on the MTF.
ROW_2031_PREV = _row(
    2031,
    _utc(PREV_DAY, 11),
    instrument_type="SHARE",
    buyer_id_type="LEI",
    buyer_id=CLIENT_LEI,
    buyer_branch_country="LU",
    seller_id_type="MIC",
    seller_id="XMTF",
    quantity=Decimal("10.0000"),
    price=Decimal("60.000000"),
    venue="XMTF",
    instrument_isin=TOTAL,
    **_ALGO_EXECUTES,
    extract_run_id="R0",
)

DAY_ROWS = [ROW_2001, ROW_2002, ROW_2003, ROW_2004, ROW_2005, ROW_2006, ROW_2007]
DAY_ROWS += [ROW_2008, ROW_2009, ROW_2013_CLIENT, ROW_2013_MARKET]

# ----- hand-derived quarantine rows -------------------------------------------------------

_REASON_TEXTS = {
    "JOINT_HOLDER_DETAILS_MISSING": (
        "A further holder of a joint account lacks a name or birth date or national id"
    ),
    "COUNTERPARTY_LEI_MISSING": "An off-venue (XOFF) fill has no counterparty LEI",
    "INVESTMENT_DECISION_MISSING": (
        "The firm decided but neither a known decision trader nor an algorithm is named"
    ),
}


def _source_row(
    execution_id: int, at: str, quantity: str, price: str, venue: str, capacity: str
) -> dict[str, Any]:
    """The raw execution as the quarantine shows it (jsonb: numbers as JSON numbers)."""
    return {
        "execution_id": execution_id,
        "order_id": execution_id - 1800,  # orders are numbered execution_id - 1800
        "executed_at": at,
        "updated_at": at,
        "version": 1,
        "status": "LIVE",
        "exec_kind": "TRADE",
        "quantity": json.loads(quantity),
        "price": json.loads(price),
        "currency": "EUR",
        "accrued_interest": None,
        "venue_mic": venue,
        "venue_transaction_id": None,
        "trading_capacity": capacity,
    }


def _quarantine(execution_id: int, at: datetime, codes: list[str], source: dict) -> dict:
    return {
        "execution_id": execution_id,
        "order_id": execution_id - 1800,
        "trading_date": at.date(),
        "executed_at": at,
        "reason_codes": codes,
        "reason_code": codes[0],
        "reason_text": _REASON_TEXTS[codes[0]],
        "source_row": source,
        "source_rows": 1,
        "extract_run_id": "R1",
    }


# 2020: option not in FIRDS without strike, bought for a joint account whose second holder
# has a blank national id and which has a third holder (the report carries two): three
# reasons, sorted.
Q_2020 = _quarantine(
    2020,
    _utc(DAY, 15),
    ["JOINT_HOLDER_DETAILS_MISSING", "OPTION_DETAILS_MISSING", "TOO_MANY_JOINT_HOLDERS"],
    # quantity numeric(18,4) and price numeric(18,6) keep their scale in jsonb.
    _source_row(2020, "2026-03-10T15:00:00.000000Z", "1.0000", "4.300000", "XCCP", "AOTC"),
)
# 2021: a share sold off venue without counterparty LEI, for a client whose POA person has no
# birth date, and without short selling indicator: three reasons.
Q_2021 = _quarantine(
    2021,
    _utc(DAY, 15, 30),
    ["COUNTERPARTY_LEI_MISSING", "POA_DETAILS_MISSING", "SHORT_SELLING_IND_MISSING"],
    _source_row(2021, "2026-03-10T15:30:00.000000Z", "4.0000", "60.500000", "XOFF", "AOTC"),
)
# 2022: house buy with neither decision trader nor algo: nobody took the decision (field 57).
Q_2022 = _quarantine(
    2022,
    _utc(DAY, 16),
    ["INVESTMENT_DECISION_MISSING"],
    _source_row(2022, "2026-03-10T16:00:00.000000Z", "6.0000", "122.000000", "XCCP", "DEAL"),
)
# 2023: MTCH buy off venue without counterparty LEI: the reason holds for both legs (the
# market leg has no counterparty), and the execution is quarantined once, not once per leg.
Q_2023 = _quarantine(
    2023,
    _utc(DAY, 16, 30),
    ["COUNTERPARTY_LEI_MISSING"],
    _source_row(2023, "2026-03-10T16:30:00.000000Z", "9.0000", "61.000000", "XOFF", "MTCH"),
)

# ----- the scenario -----------------------------------------------------------------------


@dataclass
class Snapshot:
    """Warehouse state after one step of the scenario."""

    report: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]
    eligibility: list[dict[str, Any]]
    fct: list[tuple]
    report_columns: list[str]
    quarantine_columns: list[str]


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _drop(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


_REFERENCE = ("firm", "venues", "accounts", "account_joint_holders", "traders", "algos")
_REFERENCE += ("instruments", "compliance_rules", "fx_rates")

# The run scope of the extract contract: executed in the period or changed in it.
_SCOPE = "(e.executed_at >= %(start)s and e.executed_at < %(end)s)"
_SCOPE += " or (e.updated_at >= %(start)s and e.updated_at < %(end)s)"


def _land(conn: psycopg.Connection, day: date, run_id: str) -> None:
    """Stand-in for the extract: what it lands in `raw` for a period, by its contract.

    Reference tables whole; the executions of the run scope and their orders (plus the orders
    created in the period) replace any earlier row with the same key, so `raw` holds the
    latest version of each execution.
    """
    start, end = _bounds(day)
    params = {"start": start, "end": end, "run_id": run_id}
    conn.execute("create schema if not exists raw")
    for table in (*_REFERENCE, "orders", "executions", "quotes"):
        raw = sql.Identifier("raw", f"qsuite_{table}")
        conn.execute(
            sql.SQL(
                "create table if not exists {} as"
                " select *, ''::text as _extract_run_id from {} with no data"
            ).format(raw, sql.Identifier("qsuite", table))
        )
    # What the extract adds to raw executions: the source rows behind each landed one.
    conn.execute(
        "alter table raw.qsuite_executions"
        " add column if not exists _source_copies integer not null default 1"
    )
    for table in _REFERENCE:
        raw = sql.Identifier("raw", f"qsuite_{table}")
        conn.execute(sql.SQL("truncate {}").format(raw))
        conn.execute(
            sql.SQL("insert into {} select *, %(run_id)s from {}").format(
                raw, sql.Identifier("qsuite", table)
            ),
            params,
        )
    executions = f"select e.* from qsuite.executions as e where {_SCOPE}"
    orders = (
        "select o.* from qsuite.orders as o where (o.created_at >= %(start)s"
        f" and o.created_at < %(end)s) or o.order_id in (select order_id from ({executions}) as x)"
    )
    conn.execute(
        f"delete from raw.qsuite_executions where execution_id in"  # noqa: S608 - constants
        f" (select execution_id from ({executions}) as x)",
        params,
    )
    conn.execute(
        f"insert into raw.qsuite_executions select x.*, %(run_id)s from ({executions}) as x",
        params,
    )
    conn.execute(
        f"delete from raw.qsuite_orders where order_id in"  # noqa: S608 - constants
        f" (select order_id from ({orders}) as x)",
        params,
    )
    conn.execute(
        f"insert into raw.qsuite_orders select x.*, %(run_id)s from ({orders}) as x", params
    )
    conn.commit()


def _dbt_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "REGREPORT_PG_HOST": settings.pg_host,
        "REGREPORT_PG_PORT": str(settings.pg_port),
        "REGREPORT_PG_USER": settings.pg_user,
        "REGREPORT_PG_PASSWORD": settings.pg_password,
        "REGREPORT_WAREHOUSE_DB": WH_DB,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _dbt(command: str, work: Path, env: dict[str, str], *extra: str) -> None:
    result = subprocess.run(
        [
            str(DBT),
            command,
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            *extra,
        ],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"dbt {command} failed:\n{result.stdout}\n{result.stderr}"


def _build(day: date, work: Path, env: dict[str, str], *select: str) -> None:
    start, end = _bounds(day)
    period = {"period_start": start.isoformat(), "period_end": end.isoformat()}
    args = ["--vars", json.dumps(period)]
    if select:
        args += ["--select", *select]
    _dbt("build", work, env, *args)


def _snapshot(wh_dsn: str) -> Snapshot:
    with psycopg.connect(wh_dsn, row_factory=dict_row) as conn:
        report = conn.execute(
            "select * from reports.rpt_mifir_rts22_transactions order by tx_id"
        ).fetchall()
        quarantine = conn.execute(
            "select * from reports.rpt_mifir_rts22_quarantine order by execution_id"
        ).fetchall()
        eligibility = conn.execute(
            "select execution_id, is_reportable, not_reportable_reason"
            " from intermediate.int_mifir__eligibility order by execution_id"
        ).fetchall()
        fct = [
            (r["execution_id"], r["trading_date"], r["price"], r["execution_status"])
            for r in conn.execute("select * from marts.fct_executions order by execution_id")
        ]
        columns = {
            table: [
                r["column_name"]
                for r in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'reports' and table_name = %s order by ordinal_position",
                    (table,),
                )
            ]
            for table in ("rpt_mifir_rts22_transactions", "rpt_mifir_rts22_quarantine")
        }
    return Snapshot(
        report,
        quarantine,
        eligibility,
        fct,
        columns["rpt_mifir_rts22_transactions"],
        columns["rpt_mifir_rts22_quarantine"],
    )


# The rule gate's verdicts for the split run (step 5): an error on a clean row (2001 leaves
# the report), a warning (2002 stays), an error on a row that already has SQL reasons (2020:
# the rule code joins them, sorted), an error found on one leg of an MTCH execution (keyed by
# the execution: 2013 leaves the report with both legs, quarantined once).
_VIOLATIONS_SQL = """
insert into regreport.rule_violations
    (execution_id, rule_code, severity, field, trading_date, extract_run_id)
values
    (2001, 'RR-LEI-002', 'error', 'buyer_id', '2026-03-10', 'R1'),
    (2002, 'RR-TEST-WARN', 'warning', 'price', '2026-03-10', 'R1'),
    (2020, 'RR-ISIN-002', 'error', 'instrument_isin', '2026-03-10', 'R1'),
    (2013, 'RR-MIC-004', 'error', 'country_of_branch', '2026-03-10', 'R1')
"""


@pytest.fixture(scope="module")
def scenario(
    pg_services: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Snapshot]]:
    """Run the five steps once and keep the warehouse state after each."""
    settings = pg_services
    admin = settings.dsn("postgres")
    wh_dsn = settings.dsn(WH_DB)
    work = tmp_path_factory.mktemp("dbt")
    env = _dbt_env(settings)
    _drop(admin, WH_DB)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(WH_DB)))
    try:
        with psycopg.connect(wh_dsn) as conn:
            conn.execute(SCHEMA_SQL.read_text())
            conn.execute(_SOURCE_SQL)
        steps: dict[str, Snapshot] = {}
        with psycopg.connect(wh_dsn) as conn:
            _land(conn, PREV_DAY, "R0")
        _build(PREV_DAY, work, env)
        steps["prev"] = _snapshot(wh_dsn)

        with psycopg.connect(wh_dsn) as conn:
            conn.execute(_CORRECTIONS_SQL)
            conn.commit()
            _land(conn, DAY, "R1")
        _build(DAY, work, env)
        steps["first"] = _snapshot(wh_dsn)

        _build(DAY, work, env)
        steps["rerun"] = _snapshot(wh_dsn)

        with psycopg.connect(wh_dsn) as conn:
            _land(conn, PREV_DAY, "R0b")
        _build(PREV_DAY, work, env)
        steps["prev_again"] = _snapshot(wh_dsn)

        _build(DAY, work, env, "+int_mifir__transactions")
        with psycopg.connect(wh_dsn) as conn:
            conn.execute(_VIOLATIONS_SQL)
        _build(DAY, work, env, "rpt_mifir_rts22_transactions", "rpt_mifir_rts22_quarantine")
        steps["gated"] = _snapshot(wh_dsn)
        yield steps
    finally:
        _drop(admin, WH_DB)


# ----- tests ------------------------------------------------------------------------------


@pytest.mark.unit
def test_source_identifiers_are_valid() -> None:
    for lei in (FIRM_LEI, CLIENT_LEI, CCP_LEI, DISC_LEI, POA_CLIENT_LEI, POA_LEI, OTC_LEI):
        assert is_valid_lei(lei), lei
    assert is_valid_lei(TRANSMITTER_LEI)
    for isin in (SAP, TOTAL, ETF_ISIN, BUND_ISIN, CORP_ISIN, CALL_ISIN, FUT_ISIN):
        assert is_valid_isin(isin), isin
    assert "ES" + spanish_dni(12345678) == TRADER_NIDN
    people = [
        (MARIE, "FR", MARIE_ID),
        (ANNA, "DE", ANNA_ID),
        (PAUL, "FR", PAUL_ID),
        (CLAIRE, "FR", CLAIRE_ID),
        (SOPHIE, "FR", SOPHIE_ID),
        (JEAN, "FR", JEAN_ID),
        (("Eva", "Weber", date(1982, 3, 4)), "DE", EVA_ID),
        (("Louis", "Petit", date(1950, 1, 1)), "FR", LOUIS_ID),
    ]
    for (first, surname, birth), country, national_id in people:
        assert concat_national_id(country, birth, first, surname) == national_id


@pytest.mark.unit
def test_dbt_parse(tmp_path: Path) -> None:
    # parse renders the profile but does not connect; an unreachable port proves it.
    env = {**os.environ, "REGREPORT_PG_PORT": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    _dbt("parse", tmp_path, env)
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    assert {
        "stg_qsuite__account_joint_holders",
        "int_executions__enriched",
        "int_mifir__eligibility",
        "int_mifir__transactions",
        "fct_executions",
        "rpt_mifir_rts22_transactions",
        "rpt_mifir_rts22_quarantine",
    } <= set(models)
    for name in ("rpt_mifir_rts22_transactions", "rpt_mifir_rts22_quarantine"):
        assert models[name]["schema"] == "reports"
        assert models[name]["config"]["contract"]["enforced"] is True
        assert models[name]["config"]["materialized"] == "incremental"
    assert [c["name"] for c in models["rpt_mifir_rts22_transactions"]["columns"].values()] == (
        REPORT_COLUMNS
    )
    sources = {node["name"] for node in manifest["sources"].values()}
    assert {"qsuite_account_joint_holders", "rule_violations"} <= sources
    assert "create_rule_violations" in " ".join(manifest["macros"])


@pytest.mark.integration
def test_report_columns_follow_the_contract(scenario: dict[str, Snapshot]) -> None:
    step = scenario["first"]
    assert step.report_columns == REPORT_COLUMNS
    assert step.quarantine_columns == QUARANTINE_COLUMNS


@pytest.mark.integration
@pytest.mark.parametrize("expected", DAY_ROWS, ids=lambda row: row["tx_id"])
def test_report_row(scenario: dict[str, Snapshot], expected: dict[str, Any]) -> None:
    by_tx = {row["tx_id"]: row for row in scenario["first"].report}
    assert by_tx[expected["tx_id"]] == expected


@pytest.mark.integration
def test_report_holds_the_day_and_the_correction(scenario: dict[str, Snapshot]) -> None:
    # Reported: 2001-2009 and both legs of 2013 of the 10th and the corrected 2030 (price
    # 120 -> 121.5, run R1); 2031 was busted on the 10th, so its row of the 9th is gone.
    assert scenario["first"].report == sorted(
        [*DAY_ROWS, _row_2030("121.500000", "R1")], key=lambda row: row["tx_id"]
    )


@pytest.mark.integration
def test_previous_day_report(scenario: dict[str, Snapshot]) -> None:
    # The 9th alone: both trades as executed, before the correction and the bust.
    assert scenario["prev"].report == [_row_2030("120.000000", "R0"), ROW_2031_PREV]
    assert scenario["prev"].quarantine == []


@pytest.mark.integration
def test_eligibility(scenario: dict[str, Snapshot]) -> None:
    # The 10th's scope: executions 2001-2013 and 2020-2023 of the day, plus 2030 and 2031
    # (executed on the 9th, changed on the 10th). Not reportable: spot FX (2010), the internal
    # transfer (2011), the busted fills (2012 on the day, 2031 from the 9th).
    not_reportable = {
        2010: "INSTRUMENT_OUT_OF_SCOPE",
        2011: "NOT_A_TRANSACTION",
        2012: "EXECUTION_CANCELLED",
        2031: "EXECUTION_CANCELLED",
    }
    scope = [*range(2001, 2014), *range(2020, 2024), 2030, 2031]
    assert scenario["first"].eligibility == [
        {
            "execution_id": execution_id,
            "is_reportable": execution_id not in not_reportable,
            "not_reportable_reason": not_reportable.get(execution_id),
        }
        for execution_id in scope
    ]


@pytest.mark.integration
def test_quarantine_keeps_every_reason(scenario: dict[str, Snapshot]) -> None:
    # One row per execution: 2023's two legs share one quarantine row.
    assert scenario["first"].quarantine == [Q_2020, Q_2021, Q_2022, Q_2023]


@pytest.mark.integration
def test_reconciliation(scenario: dict[str, Snapshot]) -> None:
    # Scope of the 10th (19 executions: 2001-2013, 2020-2023, 2030, 2031) = reported (11:
    # 2001-2009, 2013, 2030) + quarantined (4: 2020-2023) + not reportable (4: 2010-2012, 2031).
    # Reported counts executions: 2013 has two records (12 rows for 11 executions).
    step = scenario["first"]
    reported = {row["execution_id"] for row in step.report}
    quarantined = {row["execution_id"] for row in step.quarantine}
    not_reportable = {row["execution_id"] for row in step.eligibility if not row["is_reportable"]}
    scope = {row["execution_id"] for row in step.eligibility}
    assert (len(scope), len(reported), len(quarantined), len(not_reportable)) == (19, 11, 4, 4)
    assert len(step.report) == len(reported) + 1
    assert len(step.quarantine) == len(quarantined)
    assert reported | quarantined | not_reportable == scope


@pytest.mark.integration
def test_fct_executions_replaces_corrected_rows(scenario: dict[str, Snapshot]) -> None:
    fct = {row[0]: row for row in scenario["first"].fct}
    # One row per execution, the 10th's version of the two changed trades of the 9th.
    assert len(scenario["first"].fct) == len(fct)
    assert fct[2030] == (2030, PREV_DAY, Decimal("121.5"), "LIVE")
    assert fct[2031] == (2031, PREV_DAY, Decimal("60"), "CANCELLED")


@pytest.mark.integration
def test_rerun_is_idempotent(scenario: dict[str, Snapshot]) -> None:
    first, rerun = scenario["first"], scenario["rerun"]
    assert rerun.report == first.report
    assert rerun.quarantine == first.quarantine
    assert rerun.fct == first.fct


@pytest.mark.integration
def test_previous_day_rebuild_leaves_the_day_alone(scenario: dict[str, Snapshot]) -> None:
    first, again = scenario["first"], scenario["prev_again"]
    # Rows of the 10th are untouched; the 9th's scope is 2030 and 2031 (executed on the 9th,
    # now at their latest version): 2030 is rewritten from the re-landed R0b row, 2031 stays
    # out (busted).
    assert [r for r in again.report if r["trading_date"] == DAY] == [
        r for r in first.report if r["trading_date"] == DAY
    ]
    assert [r for r in again.report if r["trading_date"] == PREV_DAY] == [
        _row_2030("121.500000", "R0b")
    ]
    assert again.quarantine == first.quarantine
    assert again.fct == first.fct


@pytest.mark.integration
def test_rule_gate_errors_quarantine(scenario: dict[str, Snapshot]) -> None:
    step = scenario["gated"]
    # 2001 leaves the report for the error, 2013 with both legs; 2002's warning does not
    # block. 2030 is the 9th's re-landed row (R0b, step 4), in the 10th's scope because it
    # changed on the 10th.
    assert step.report == sorted(
        [r for r in DAY_ROWS if r["execution_id"] not in (2001, 2013)]
        + [_row_2030("121.500000", "R0b")],
        key=lambda row: row["tx_id"],
    )
    q_2001 = {
        "execution_id": 2001,
        "order_id": 201,
        "trading_date": DAY,
        "executed_at": ROW_2001["trading_datetime"],
        "reason_codes": ["RR-LEI-002"],
        "reason_code": "RR-LEI-002",
        # A rule code's text names the rule and the field, never the value.
        "reason_text": "Validation rule RR-LEI-002 failed on buyer_id",
        "source_row": {
            **_source_row(
                2001, "2026-03-10T09:30:00.123456Z", "100.0000", "123.450000", "XCCP", "AOTC"
            ),
            "venue_transaction_id": "abc123",
        },
        "source_rows": 1,
        "extract_run_id": "R1",
    }
    # 2020: SQL reasons and the rule code together, sorted ('J' < 'O' < 'R' < 'T').
    q_2020 = {
        **Q_2020,
        "reason_codes": [
            "JOINT_HOLDER_DETAILS_MISSING",
            "OPTION_DETAILS_MISSING",
            "RR-ISIN-002",
            "TOO_MANY_JOINT_HOLDERS",
        ],
    }
    # 2013 once, with the raw (not upper-cased) venue id of the source.
    q_2013 = {
        "execution_id": 2013,
        "order_id": 213,
        "trading_date": DAY,
        "executed_at": ROW_2013_CLIENT["trading_datetime"],
        "reason_codes": ["RR-MIC-004"],
        "reason_code": "RR-MIC-004",
        "reason_text": "Validation rule RR-MIC-004 failed on country_of_branch",
        "source_row": {
            **_source_row(
                2013, "2026-03-10T14:50:00.000000Z", "12.0000", "124.500000", "XMTF", "MTCH"
            ),
            "venue_transaction_id": "mtf-13",
        },
        "source_rows": 1,
        "extract_run_id": "R1",
    }
    assert step.quarantine == [q_2001, q_2013, q_2020, Q_2021, Q_2022, Q_2023]
