"""Great Expectations checkpoints over the report tables, as a gate before submission.

The File Data Context under `expectations/gx/` is committed: data source, batch definitions,
suites, validation definitions and checkpoints are configuration that reviewers read in git.
At run time this module only loads them and runs a checkpoint for one period; it builds the
configuration only when a piece is missing (a fresh project, or a new report added with
`ensure_checkpoint`). The warehouse URL reaches GX through the `${REGREPORT_GX_WAREHOUSE_URL}`
config variable, so no DSN is ever written into `gx/`.

A failed validation raises `ValidationFailedError`: the GX Airflow provider does not fail a task
by itself (its issue #195), and nothing downstream may run on unvalidated data.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATASOURCE = "warehouse"
#: Counts of unexpected rows, never their values: report rows hold names, birth dates and
#: national ids, and GX writes results to Data Docs and `uncommitted/validations` on disk.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
}
WAREHOUSE_URL_VARIABLE = "REGREPORT_GX_WAREHOUSE_URL"


@dataclass(frozen=True)
class ReportCheck:
    """One report table validated per period by one suite."""

    suite: str
    schema: str
    table: str
    period_column: str

    @property
    def asset(self) -> str:
        """Data asset name: `<schema>.<table>`."""
        return f"{self.schema}.{self.table}"

    @property
    def batch_definition(self) -> str:
        """Daily partition of the asset on the period column."""
        return "daily"

    @property
    def validation_definition(self) -> str:
        """Validation definition name, `<suite>__<batch_definition>` (STYLE B5)."""
        return f"{self.suite}__{self.batch_definition}"


MIFIR_RTS22 = ReportCheck(
    suite="rpt__mifir_rts22_transactions",
    schema="reports",
    table="rpt_mifir_rts22_transactions",
    period_column="trading_date",
)

POSITIONS = ReportCheck(
    suite="rpt__positions",
    schema="reports",
    table="rpt_positions",
    period_column="business_date",
)
DAILY_TRADING = ReportCheck(
    suite="rpt__daily_trading",
    schema="reports",
    table="rpt_daily_trading",
    period_column="trading_date",
)
LARGE_TRADER_DAILY = ReportCheck(
    suite="rpt__large_trader_daily",
    schema="reports",
    table="rpt_large_trader_daily",
    period_column="business_date",
)
#: Monthly rows carry the month's first day: the "daily" batch of that day is the month.
LARGE_TRADER_MONTHLY = ReportCheck(
    suite="rpt__large_trader_monthly",
    schema="reports",
    table="rpt_large_trader_monthly",
    period_column="month_start",
)
RISK_LIMITS = ReportCheck(
    suite="rpt__risk_limits",
    schema="reports",
    table="rpt_risk_limits_daily",
    period_column="business_date",
)
EXECUTION_QUALITY = ReportCheck(
    suite="rpt__execution_quality",
    schema="reports",
    table="rpt_execution_quality_monthly",
    period_column="month_start",
)

#: Quarterly rows carry the quarter's first day (the best-execution review).
EXECUTION_QUALITY_QUARTERLY = ReportCheck(
    suite="rpt__execution_quality_quarterly",
    schema="reports",
    table="rpt_execution_quality_quarterly",
    period_column="quarter_start",
)

CHECKPOINTS: dict[str, ReportCheck] = {
    "mifir_transactions_daily__report": MIFIR_RTS22,
    "positions_daily__report": POSITIONS,
    "daily_trading__report": DAILY_TRADING,
    "large_trader_daily__report": LARGE_TRADER_DAILY,
    "risk_limits_daily__report": RISK_LIMITS,
    "large_trader_monthly__report": LARGE_TRADER_MONTHLY,
    "execution_quality_monthly__report": EXECUTION_QUALITY,
    "execution_quality_quarterly__report": EXECUTION_QUALITY_QUARTERLY,
}


class ValidationFailedError(RuntimeError):
    """A checkpoint found data that must not be submitted."""


@dataclass(frozen=True)
class CheckpointOutcome:
    """What a checkpoint run found, in a form a task log or CLI can print."""

    checkpoint: str
    success: bool
    run_id: str
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None

    def summary(self) -> str:
        """One line for logs: result and failed rule codes."""
        state = "passed" if self.success else "FAILED"
        codes = ", ".join(f["rule_code"] for f in self.failed)
        tail = f" (failed: {codes})" if codes else ""
        return f"GX {self.checkpoint} {state}: {self.evaluated} expectations{tail}"


def _quiet_gx() -> None:
    # GX logs ~200 INFO lines per run under Airflow (shared stack/FACTS.md).
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def get_context(gx_root: Path, warehouse_url: str) -> Any:
    """Load the committed File Data Context with the warehouse URL in its config variable."""
    _quiet_gx()
    import great_expectations as gx

    os.environ[WAREHOUSE_URL_VARIABLE] = warehouse_url.replace(
        "postgresql://", "postgresql+psycopg2://", 1
    )
    return gx.get_context(mode="file", project_root_dir=str(gx_root))


def _suite_path(gx_root: Path, suite: str) -> Path:
    return gx_root / "gx" / "expectations" / f"{suite}.json"


def ensure_checkpoint(context: Any, name: str, check: ReportCheck) -> Any:
    """Return the named checkpoint, creating any missing piece of its configuration."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    try:
        return context.checkpoints.get(name)
    except Exception:  # noqa: BLE001 - GX raises several types for "not found"
        log.info("creating GX checkpoint %s", name)
    try:
        datasource = context.data_sources.get(DATASOURCE)
    except Exception:  # noqa: BLE001
        datasource = context.data_sources.add_postgres(
            name=DATASOURCE, connection_string="${" + WAREHOUSE_URL_VARIABLE + "}"
        )
    try:
        asset = datasource.get_asset(check.asset)
    except LookupError:
        asset = datasource.add_table_asset(
            name=check.asset, table_name=check.table, schema_name=check.schema
        )
    try:
        batch_definition = asset.get_batch_definition(check.batch_definition)
    except KeyError:
        batch_definition = asset.add_batch_definition_daily(
            name=check.batch_definition, column=check.period_column
        )
    suite = context.suites.get(check.suite)
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(
            name=check.validation_definition, data=batch_definition, suite=suite
        )
    )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[validation],
            actions=[UpdateDataDocsAction(name="update_data_docs")],
            result_format=RESULT_FORMAT,
        )
    )


def _failures(result: Any) -> tuple[int, list[dict[str, Any]]]:
    evaluated = 0
    failed: list[dict[str, Any]] = []
    for run_result in result.run_results.values():
        for er in run_result.results:
            evaluated += 1
            if er.success:
                continue
            config = er.expectation_config
            meta = config.meta or {}
            res = er.result or {}
            failed.append(
                {
                    "rule_code": meta.get("rule_code", config.type),
                    "expectation": config.type,
                    "column": config.kwargs.get("column"),
                    "unexpected_count": res.get("unexpected_count"),
                    "legal_ref": meta.get("legal_ref"),
                }
            )
    return evaluated, failed


def run_checkpoint(
    gx_root: Path, warehouse_url: str, checkpoint: str, period: date
) -> CheckpointOutcome:
    """Validate one period of a report table and build Data Docs.

    Args:
        gx_root: the folder holding `gx/` (the committed File Data Context).
        warehouse_url: libpq URI of the warehouse.
        checkpoint: a key of `CHECKPOINTS`.
        period: the trading date whose rows are validated.

    Returns:
        The outcome; callers decide whether to raise (see `require_success`).
    """
    from great_expectations.exceptions.exceptions import NoAvailableBatchesError

    check = CHECKPOINTS[checkpoint]
    context = get_context(gx_root, warehouse_url)
    cp = ensure_checkpoint(context, checkpoint, check)
    try:
        result = cp.run(
            batch_parameters={"year": period.year, "month": period.month, "day": period.day}
        )
    except NoAvailableBatchesError:
        # No report rows for the day: nothing to validate, and nothing will be submitted.
        log.warning("GX %s: no rows in %s for %s", checkpoint, check.asset, period)
        return CheckpointOutcome(checkpoint, True, f"no-batch-{period.isoformat()}", 0)
    evaluated, failed = _failures(result)
    docs = gx_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    return CheckpointOutcome(
        checkpoint=checkpoint,
        success=bool(result.success),
        run_id=result.run_id.run_time.isoformat(),
        evaluated=evaluated,
        failed=failed,
        data_docs=str(docs) if docs.exists() else None,
    )


def require_success(outcome: CheckpointOutcome) -> CheckpointOutcome:
    """Raise `ValidationFailedError` unless the checkpoint passed."""
    if not outcome.success:
        raise ValidationFailedError(
            outcome.summary()
            + "; nothing is rendered or submitted. Details: "
            + json.dumps(outcome.failed, default=str)
        )
    return outcome
