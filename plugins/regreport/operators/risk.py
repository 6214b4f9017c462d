"""`RiskCheckReplayOperator`: replay a date range of orders through the 15c3-5 controls.

A thin adapter over `regreport.risk.replay.run`: it resolves the warehouse connection, passes
the (templated) range and rule-set mode, and returns the replay summary as its XCom. All the
logic, and all the tests of it, live in `regreport.risk`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def _optional_int(value: Any) -> int | None:
    if value in (None, "", "None", "null"):
        return None
    return int(value)


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")


class RiskCheckReplayOperator(BaseOperator):
    """Replay the landed orders of `date_from`..`date_to` and store every decision.

    Args:
        date_from: First day (ISO date, templated).
        date_to: Last day, inclusive (ISO date, templated).
        ruleset_version: Replay against this rule-set version; empty: the rules as recorded
            at each order's time (templated).
        include_testing: Apply TESTING rules too (templated).
        conn_id: The warehouse connection.
    """

    template_fields = ("date_from", "date_to", "ruleset_version", "include_testing")
    ui_color = "#f4d8cd"

    def __init__(
        self,
        *,
        date_from: str,
        date_to: str,
        ruleset_version: Any = None,
        include_testing: Any = False,
        conn_id: str = "warehouse_postgres",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.date_from = date_from
        self.date_to = date_to
        self.ruleset_version = ruleset_version
        self.include_testing = include_testing
        self.conn_id = conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Replay the range and return the summary (XCom)."""
        from regreport.hooks.connections import postgres_dsn
        from regreport.risk import replay

        summary = replay.run(
            postgres_dsn(self.conn_id),
            date.fromisoformat(str(self.date_from)),
            date.fromisoformat(str(self.date_to)),
            ruleset_version=_optional_int(self.ruleset_version),
            include_testing=_flag(self.include_testing),
            run_id=context["run_id"],
            progress=self.log.info,
        ).as_dict()
        for line in replay.summary_lines(summary):
            self.log.info("%s", line)
        return summary
