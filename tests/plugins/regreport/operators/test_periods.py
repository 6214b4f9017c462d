from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException

from regreport.operators.periods import fail_unless_ended


@pytest.mark.unit
def test_an_open_period_fails_the_task_without_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGREPORT_ALLOW_OPEN_PERIOD", raising=False)
    fail_unless_ended(datetime.now(tz=UTC) - timedelta(minutes=1))  # over: nothing to say
    with pytest.raises(AirflowFailException, match="has not ended yet"):
        fail_unless_ended(datetime.now(tz=UTC) + timedelta(hours=1))
