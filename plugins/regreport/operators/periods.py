"""The Airflow side of a period check: a period that has not ended fails the task at once.

`regreport.pipeline.require_ended` refuses to report a day (or month) before it is over; a
retry would meet the same answer, so the task fails without retrying and says why in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from datetime import datetime


def fail_unless_ended(end: datetime) -> None:
    """Raise `AirflowFailException` (no retries) when the period ending at `end` is still open."""
    from regreport.pipeline import PeriodNotEndedError, require_ended

    try:
        require_ended(end)
    except PeriodNotEndedError as exc:
        raise AirflowFailException(str(exc)) from exc
