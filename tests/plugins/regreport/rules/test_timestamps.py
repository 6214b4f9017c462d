"""RR-TS-001/002/003 on the trading date time, period [2026-03-02, 2026-03-03) UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.unit

CET = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 2, 0, 0, tzinfo=UTC),  # period start is inclusive
        datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 2, 12, 0, tzinfo=CET),
        "2026-03-02T10:15:30.123Z",
    ],
)
def test_in_period_passes(record, run_rule, moment) -> None:
    record["trading_datetime"] = moment
    for code in ("RR-TS-001", "RR-TS-002", "RR-TS-003"):
        assert run_rule(code, record) == []


@pytest.mark.parametrize("moment", [datetime(2026, 3, 2, 10, 15), None, "yesterday", 1772446530])  # noqa: DTZ001
def test_naive_or_missing_fails(record, run_rule, moment) -> None:
    record["trading_datetime"] = moment
    assert [(f.code, f.field) for f in run_rule("RR-TS-001", record)] == [
        ("RR-TS-001", "trading_datetime")
    ]
    assert run_rule("RR-TS-002", record) == []


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 3, 0, 0, tzinfo=UTC),  # period end is exclusive
        datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 2, 0, 30, tzinfo=CET),  # 2026-03-01T23:30Z
    ],
)
def test_outside_period_fails(record, run_rule, moment) -> None:
    record["trading_datetime"] = moment
    assert [(f.code, f.field) for f in run_rule("RR-TS-002", record)] == [
        ("RR-TS-002", "trading_datetime")
    ]


def test_trading_date_must_be_utc_date(record, run_rule) -> None:
    record["trading_datetime"] = datetime(2026, 3, 2, 0, 30, tzinfo=CET)
    assert [(f.code, f.field) for f in run_rule("RR-TS-003", record)] == [
        ("RR-TS-003", "trading_date")
    ]
    record["trading_date"] = date(2026, 3, 1)
    assert run_rule("RR-TS-003", record) == []


@pytest.mark.parametrize(
    ("field", "end", "alive"),
    [
        ("expiry_date", date(2026, 3, 2), True),  # expires on the trade date
        ("expiry_date", date(2026, 3, 1), False),
        ("maturity_date", date(2033, 5, 25), True),
        ("maturity_date", date(2026, 2, 27), False),
    ],
)
def test_instrument_alive_on_trade_date(record, run_rule, field, end, alive) -> None:
    record[field] = end
    found = [(f.code, f.field) for f in run_rule("RR-TS-004", record)]
    assert found == ([] if alive else [("RR-TS-004", field)])
