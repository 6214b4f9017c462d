"""The days a backtest replays when the form leaves them empty."""

from __future__ import annotations

from datetime import date

import pytest

from regreport.risk.replay import backtest_range

pytestmark = pytest.mark.unit


def test_empty_params_replay_the_business_day_before_the_run() -> None:
    assert backtest_range(None, None, date(2026, 12, 2)) == (date(2026, 12, 1), date(2026, 12, 1))
    # Monday: Friday. The Tuesday after Easter Monday (TARGET2): the Thursday before Good Friday.
    assert backtest_range("", "", date(2026, 11, 30))[0] == date(2026, 11, 27)
    assert backtest_range(None, None, date(2026, 4, 7))[0] == date(2026, 4, 2)


def test_a_range_from_the_params() -> None:
    assert backtest_range("2026-11-02", "2026-11-27", date(2026, 12, 2)) == (
        date(2026, 11, 2), date(2026, 11, 27),
    )  # fmt: skip
    assert backtest_range("2026-11-02", None, date(2026, 12, 2)) == (
        date(2026, 11, 2), date(2026, 11, 2),
    )  # fmt: skip
    with pytest.raises(ValueError, match="before date_from"):
        backtest_range("2026-11-05", "2026-11-02", date(2026, 12, 2))
