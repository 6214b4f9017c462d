"""The local Airflow environment: every database connection is a stage login, never the admin."""

from __future__ import annotations

import json

import pytest

from regreport import config, local_airflow
from regreport.config import Settings

pytestmark = pytest.mark.unit


def test_each_stage_connects_as_its_own_login(settings: Settings) -> None:
    env = local_airflow.airflow_env(settings)
    expected = {
        config.SOURCE_CONN_ID: ("regreport_extract_user", settings.source_db),
        config.EXTRACT_CONN_ID: ("regreport_extract_user", settings.warehouse_db),
        config.TRANSFORM_CONN_ID: ("regreport_transform_user", settings.warehouse_db),
        config.WAREHOUSE_CONN_ID: ("regreport_report_user", settings.warehouse_db),
    }
    for conn_id, (login, database) in expected.items():
        conn = json.loads(env[f"AIRFLOW_CONN_{conn_id.upper()}"])
        assert (conn["login"], conn["schema"]) == (login, database), conn_id
        assert conn["login"] != settings.pg_user
        stage = login.removeprefix("regreport_").removesuffix("_user")
        assert conn["password"] == settings.db_passwords[stage]
    postgres = [
        name
        for name, value in env.items()
        if name.startswith("AIRFLOW_CONN_") and json.loads(value).get("conn_type") == "postgres"
    ]
    assert len(postgres) == len(expected)


def test_stage_passwords_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGREPORT_DB_PASSWORD_REPORT", "from-the-environment-123")
    settings = Settings.from_env()
    assert settings.db_passwords["report"] == "from-the-environment-123"
    assert set(settings.db_passwords) == set(config.DB_STAGES)
