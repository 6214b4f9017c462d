"""The closed vocabularies of a 15c3-5 replay: checks, per-check outcomes and reason codes.

Every result row names one `Check`, one `Outcome` and one `Reason`; nothing else is ever
written, so a breach report can be filtered and counted without parsing free text. The integer
values are the fast engine's array codes and never change meaning (append only).
"""

from __future__ import annotations

from enum import IntEnum


class Check(IntEnum):
    """One pre-trade control (SEC 15c3-5 (c)(1) financial, (c)(2) regulatory)."""

    INPUT = 0  # the order itself is well formed (quantity, account, instrument, time)
    ACCOUNT_ACCESS = 1  # (c)(2)(iii) the account may access the market
    APPROVED_INSTRUMENTS = 2  # (c)(2)(iii) the account is approved for the symbol
    RESTRICTED_LIST = 3  # (c)(2)(ii) the symbol is not restricted
    TRADING_HOURS = 4  # the order's market is open (exchange calendar, half days)
    MIN_ORDER_QUANTITY = 5  # (c)(1)(ii) size parameters
    MIN_ORDER_NOTIONAL = 6
    MAX_ORDER_QUANTITY = 7
    MAX_ORDER_NOTIONAL = 8
    PRICE_COLLAR = 9  # (c)(1)(ii) price parameters against the prevailing reference price
    DUPLICATE_ORDER = 10  # (c)(1)(ii) duplicative orders within a window
    MESSAGE_RATE = 11  # (c)(1)(ii) "over a short period of time"
    CREDIT_LIMIT = 12  # (c)(1)(i) aggregate notional per account, open orders included
    POSITION_LIMIT = 13  # maximum intraday position per account and instrument


#: Checks after INPUT, in evaluation and report order.
CONTROL_CHECKS: tuple[Check, ...] = tuple(c for c in Check if c is not Check.INPUT)


class Outcome(IntEnum):
    """What one check decided for one order."""

    PASS = 0
    REJECT = 1
    NOT_APPLICABLE = 2  # no rule of this control is in force for the order, or it does not apply
    NOT_EVALUATED = 3  # the order failed INPUT: no control is evaluated


class Reason(IntEnum):
    """Why: the closed set of reason codes (append only; values are stored)."""

    WITHIN_LIMIT = 0
    NO_RULE_IN_FORCE = 1
    NOT_APPLICABLE_ORDER_TYPE = 2  # a price collar on a market order
    INVALID_INPUT = 3  # NOT_EVALUATED: see the INPUT check's reason
    # INPUT
    MISSING_QUANTITY = 10
    NON_POSITIVE_QUANTITY = 11
    UNKNOWN_ACCOUNT = 12
    UNKNOWN_INSTRUMENT = 13
    MISSING_TIMESTAMP = 14
    TIMESTAMP_OUTSIDE_DAY = 15
    INVALID_SIDE = 16
    MISSING_LIMIT_PRICE = 17  # a limit order without a positive limit price
    INVALID_ORDER_TYPE = 18
    # controls
    ACCOUNT_NOT_PERMITTED = 20
    SYMBOL_NOT_APPROVED = 21
    RESTRICTED_INSTRUMENT = 22
    MARKET_CLOSED = 23  # a holiday or weekend of the order's exchange calendar
    OUTSIDE_TRADING_HOURS = 24
    BELOW_MIN_QUANTITY = 25
    BELOW_MIN_NOTIONAL = 26
    ABOVE_MAX_QUANTITY = 27
    ABOVE_MAX_NOTIONAL = 28
    OUTSIDE_PRICE_COLLAR = 29
    NO_REFERENCE_PRICE = 30  # a price control, or a market order's notional, with no quote yet
    DUPLICATE_ORDER = 31
    MESSAGE_RATE_EXCEEDED = 32
    CREDIT_LIMIT_EXCEEDED = 33
    POSITION_LIMIT_EXCEEDED = 34


class Decision(IntEnum):
    """The order-level result: rejected if any control rejects it."""

    ACCEPT = 0
    REJECT = 1
    INVALID = 2  # bad input: rejected with the INPUT check's reason, never skipped
