"""`dbt_group`: the astronomer-cosmos task group every report DAG builds its dbt models with.

One place for what the DAGs share: the project and its parsed manifest (Cosmos renders the
group from `target/manifest.json`, so parsing a DAG never runs dbt), the `transform` stage's
database login (least privilege, `regreport.roles`), one `dbt build` per node (model and its
tests, so a failing test stops everything downstream of its model), and the reporting period
as dbt vars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from regreport import config

if TYPE_CHECKING:
    from regreport.config import Settings

#: The period of a daily run as dbt vars: the `report_date` param when given (a rerun or a
#: resubmission from the trigger form), else the run's data interval.
DAY_START = (
    "{{ (params.report_date ~ 'T00:00:00+00:00') if params.report_date"
    " else data_interval_start.isoformat() }}"
)
DAY_END = (
    "{{ (macros.ds_add(params.report_date, 1) ~ 'T00:00:00+00:00') if params.report_date"
    " else data_interval_end.isoformat() }}"
)


def dbt_group(
    settings: Settings,
    group_id: str,
    select: list[str],
    *,
    period_start: str,
    period_end: str,
    exclude: list[str] | None = None,
) -> DbtTaskGroup:
    """A task group building `select` (minus `exclude`) for the period.

    Args:
        settings: Where the dbt project is.
        group_id: The group's id in the DAG (`dbt_transform`, `dbt_periodic`, ...).
        select: dbt selectors (`path:models/staging`, `+tag:daily`, ...).
        period_start: Jinja template of the period's start (ISO 8601), rendered per run.
        period_end: The same for its exclusive end.
        exclude: dbt selectors to leave out.
    """
    manifest = settings.dbt_project_dir / "target" / "manifest.json"
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=settings.dbt_project_dir,
            manifest_path=manifest if manifest.exists() else None,
        ),
        profile_config=ProfileConfig(
            profile_name="regreport",
            target_name="airflow",
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id=config.TRANSFORM_CONN_ID, profile_args={"schema": "analytics"}
            ),
        ),
        execution_config=ExecutionConfig(),
        render_config=RenderConfig(
            load_method=LoadMode.AUTOMATIC,
            # One `dbt build` (model + its tests) per node: half the tasks of run-then-test,
            # and a failing test still stops everything downstream of its model.
            test_behavior=TestBehavior.BUILD,
            select=select,
            exclude=exclude or [],
        ),
        operator_args={
            "install_deps": False,
            "vars": {"period_start": period_start, "period_end": period_end},
        },
    )
