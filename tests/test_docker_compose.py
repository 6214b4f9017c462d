"""Checks on docker-compose.yml and .env.example without a Docker engine.

`docker-compose config` (Debian's docker-compose 1.29) validates the file against the Compose
schema and resolves `${VAR}` interpolation from an env file, all without a daemon. The tests feed
it an env file built from .env.example with dummy values, then inspect the resolved YAML.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
REQUIRED_SERVICES = {*AIRFLOW_SERVICES, "airflow-init", "postgres", "warehouse", "s3", "gateway"}
#: Variable names that hold credentials; they must be empty in .env.example and required
#: (`${VAR:?...}`, no default) in docker-compose.yml.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|JWT|TOKEN|ACCESS_KEY")
#: Distinctive values the tests put in the env file, to prove they flow through.
TEST_PORT = "18123"
TEST_USERS = "tester:admin,watcher:viewer"

VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?])[^}]*)?\}")


def _compose_code() -> str:
    """docker-compose.yml without its full-line comments (which may show `${VAR}` examples)."""
    lines = COMPOSE_FILE.read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def _marker(name: str) -> str:
    return f"dummy-{name.lower().replace('_', '-')}"


def _example_vars() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example line is not NAME=value: {line!r}"
        values[name.strip()] = value.strip()
    return values


def _test_env(drop: tuple[str, ...] = ()) -> dict[str, str]:
    env = {
        name: value or _marker(name) for name, value in _example_vars().items() if name not in drop
    }
    if "AIRFLOW_PORT" not in drop:
        env["AIRFLOW_PORT"] = TEST_PORT
    if "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS" not in drop:
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = TEST_USERS
    return env


@pytest.fixture(scope="module")
def docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not on PATH. `make test` installs it "
            "(apt-get install -y docker-compose, Debian's 1.29.2); no Docker engine is needed."
        )
    return exe


def test_docker_compose_is_installed(docker_compose: str) -> None:
    assert Path(docker_compose).is_file()


def _run_config(
    exe: str, tmp_path: Path, compose_file: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    # A bare environment: variables in the caller's shell would override the env file.
    proc_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    return subprocess.run(
        [
            exe,
            "--env-file",
            str(env_file),
            "--project-directory",
            str(REPO),
            "-f",
            str(compose_file),
            "config",
        ],
        capture_output=True,
        text=True,
        env=proc_env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def resolved(docker_compose: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    proc = _run_config(
        docker_compose, tmp_path_factory.mktemp("compose"), COMPOSE_FILE, _test_env()
    )
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    doc = yaml.safe_load(proc.stdout)
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def services(resolved: dict[str, Any]) -> dict[str, Any]:
    return resolved["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Container path -> (source, mode) for each volume in `docker-compose config` output."""
    mounts = {}
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        source, target = parts[0], parts[1]
        mounts[target] = (source, parts[2] if len(parts) > 2 else "rw")
    return mounts


def test_compose_file_is_valid(resolved: dict[str, Any]) -> None:
    assert resolved["services"]


def test_compose_file_uses_the_compose_specification() -> None:
    # `version:` is obsolete in the Compose Specification; Compose v2 warns about it.
    assert "version" not in yaml.safe_load(COMPOSE_FILE.read_text())


def test_all_services_present(services: dict[str, Any]) -> None:
    assert set(services) >= REQUIRED_SERVICES, REQUIRED_SERVICES - set(services)


def test_images(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["warehouse"]["image"].startswith("postgres:15")
    assert services["s3"]["image"].startswith("chrislusf/seaweedfs")
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        assert services[name]["build"]["dockerfile"] == "Dockerfile", name
        assert Path(services[name]["build"]["context"]) == REPO, name
    assert (REPO / "Dockerfile").is_file()


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES, "airflow-init"])
def test_airflow_core_settings(services: dict[str, Any], name: str) -> None:
    env = _env(services[name])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")
    # Login required: users come from .env, never "everyone is admin".
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"].lower() == "false"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == TEST_USERS
    db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert db.hostname == "postgres"
    assert db.password == _marker("AIRFLOW_DB_PASSWORD")
    assert env["AIRFLOW__CORE__FERNET_KEY"] == _marker("AIRFLOW_FERNET_KEY")
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == _marker("AIRFLOW_JWT_SECRET")
    assert urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).hostname == "airflow-apiserver"


def test_components_run_their_airflow_command(services: dict[str, Any]) -> None:
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    commands = {k: v if isinstance(v, str) else " ".join(v) for k, v in commands.items()}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }


def test_apiserver_publishes_port(services: dict[str, Any]) -> None:
    ports = services["airflow-apiserver"]["ports"]
    assert any(
        str(p).split("/")[0].endswith(f"{TEST_PORT}:8080")
        if isinstance(p, str)
        else (str(p.get("published")) == TEST_PORT and int(p["target"]) == 8080)
        for p in ports
    ), ports


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES, "airflow-init"])
def test_airflow_services_mount_dags_and_plugins(services: dict[str, Any], name: str) -> None:
    mounts = _mounts(services[name])
    assert mounts["/opt/airflow/dags"][0] == str(REPO / "dags")
    assert mounts["/opt/airflow/plugins"][0] == str(REPO / "plugins")
    assert mounts["/opt/airflow/logs"][0] == str(REPO / "logs")


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_components_mount_project_and_reference_data(
    services: dict[str, Any], name: str
) -> None:
    mounts = _mounts(services[name])
    assert mounts["/opt/airflow/dbt_project"][0] == str(REPO / "dbt_project")
    assert mounts["/opt/airflow/expectations"][0] == str(REPO / "expectations")
    env = _env(services[name])
    for var, host_var in (
        ("REGREPORT_SCHEMAS_DIR", "ESMA_SCHEMAS_DIR"),
        ("REGREPORT_REFDATA_DIR", "REFDATA_DIR"),
    ):
        source, mode = mounts[env[var]]
        assert mode == "ro", (var, mode)
        example = _example_vars()[host_var]
        assert Path(source).resolve() == (REPO / example).resolve(), (var, source)
    assert env["REGREPORT_SCHEMAS_DIR"] == "/opt/regreport/schemas/esma"


def test_healthchecks_and_start_order(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name != "airflow-init":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        for backing in ("postgres", "warehouse", "s3"):
            assert deps[backing]["condition"] == "service_healthy", (name, backing)
    init_deps = services["airflow-init"]["depends_on"]
    assert init_deps["postgres"]["condition"] == "service_healthy"
    assert init_deps["warehouse"]["condition"] == "service_healthy"  # `regreport db setup`


def test_connections_point_at_services(services: dict[str, Any]) -> None:
    env = _env(services["airflow-scheduler"])
    # One login per pipeline stage; none of them is the warehouse admin.
    for conn_var, database, stage in (
        ("AIRFLOW_CONN_WAREHOUSE_POSTGRES", "warehouse", "report"),
        ("AIRFLOW_CONN_WAREHOUSE_TRANSFORM", "warehouse", "transform"),
        ("AIRFLOW_CONN_WAREHOUSE_EXTRACT", "warehouse", "extract"),
        ("AIRFLOW_CONN_QSUITE_POSTGRES", "qsuite", "extract"),
    ):
        conn = json.loads(env[conn_var])
        assert conn["conn_type"] == "postgres"
        assert conn["host"] == "warehouse"
        assert conn["schema"] == database
        assert conn["login"] == f"regreport_{stage}_user"
        assert conn["password"] == _marker(f"REGREPORT_DB_PASSWORD_{stage.upper()}")
    init_env = _env(services["airflow-init"])
    for stage in ("extract", "transform", "report", "auditor"):
        name = f"REGREPORT_DB_PASSWORD_{stage.upper()}"
        assert init_env[name] == _marker(name)  # `regreport db setup` sets them
    s3 = json.loads(env["AIRFLOW_CONN_REPORTS_S3"])
    assert s3["conn_type"] == "aws"
    assert s3["login"] == _marker("S3_ACCESS_KEY")
    assert s3["password"] == _marker("S3_SECRET_KEY")
    endpoint = urlsplit(s3["extra"]["endpoint_url"])
    assert endpoint.hostname == "s3"
    assert endpoint.hostname in services


def test_regreport_settings_point_at_services(services: dict[str, Any]) -> None:
    env = _env(services["airflow-scheduler"])
    for var, database in (
        ("REGREPORT_SOURCE_DSN", "qsuite"),
        ("REGREPORT_WAREHOUSE_DSN", "warehouse"),
    ):
        dsn = urlsplit(env[var])
        assert dsn.hostname == "warehouse"
        assert dsn.path == f"/{database}"
        assert dsn.password == _marker("WAREHOUSE_PASSWORD")
    assert env["REGREPORT_PG_HOST"] == "warehouse"
    assert env["REGREPORT_PG_PASSWORD"] == _marker("WAREHOUSE_PASSWORD")
    assert urlsplit(env["REGREPORT_S3_ENDPOINT"]).hostname == "s3"
    assert env["REGREPORT_S3_BUCKET"] == _example_vars()["REGREPORT_S3_BUCKET"]
    assert env["REGREPORT_S3_ACCESS_KEY"] == _marker("S3_ACCESS_KEY")
    assert env["REGREPORT_S3_SECRET_KEY"] == _marker("S3_SECRET_KEY")
    assert env["REGREPORT_DBT_PROJECT_DIR"] == "/opt/airflow/dbt_project"
    assert env["REGREPORT_GX_ROOT_DIR"] == "/opt/airflow/expectations"


def test_backing_services_take_credentials_from_env(services: dict[str, Any]) -> None:
    assert _env(services["postgres"])["POSTGRES_PASSWORD"] == _marker("AIRFLOW_DB_PASSWORD")
    assert _env(services["warehouse"])["POSTGRES_PASSWORD"] == _marker("WAREHOUSE_PASSWORD")
    s3 = _env(services["s3"])
    assert s3["S3_ACCESS_KEY"] == _marker("S3_ACCESS_KEY")
    assert s3["S3_SECRET_KEY"] == _marker("S3_SECRET_KEY")
    mounts = _mounts(services["warehouse"])
    init_sql = [
        src for target, (src, _) in mounts.items() if "docker-entrypoint-initdb.d" in target
    ]
    assert init_sql, "warehouse has no init SQL mounted"
    sql = Path(init_sql[0]).read_text().lower()
    assert "create database qsuite" in sql
    assert "create database warehouse" in sql


def test_mounted_host_files_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for source, _ in _mounts(service).values():
            if source.startswith(str(REPO / "docker")):
                assert Path(source).is_file(), f"{name} mounts missing {source}"


def test_no_literal_secrets_in_compose_file() -> None:
    text = COMPOSE_FILE.read_text()
    assert "admin:admin" not in text
    assert not re.search(r"AKIA[0-9A-Z]{16}", text), "an AWS access key id is typed in"
    # Every reference to a credential variable is required and has no default.
    for match in VAR_REF.finditer(_compose_code()):
        name, modifier = match.group(1), match.group(2) or ""
        if SECRET_NAME.search(name):
            assert modifier.startswith(":?"), f"{match.group(0)} must be ${{{name}:?...}}"
    # Every credential-looking setting is exactly one required variable, or embeds only such.
    raw = yaml.safe_load(text)
    envs = [raw["x-airflow-common"]["environment"]]
    envs += [s.get("environment") or {} for s in raw["services"].values()]
    for env in envs:
        for key, value in env.items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                assert VAR_REF.fullmatch(str(value)), f"{key} is not taken from .env: {value!r}"


def test_env_example_lists_every_variable_and_no_secret_values() -> None:
    example = _example_vars()
    referenced = {m.group(1) for m in VAR_REF.finditer(_compose_code())}
    assert referenced - set(example) == set(), "variables missing from .env.example"
    for name, value in example.items():
        if SECRET_NAME.search(name):
            assert value == "", f".env.example must leave {name} empty"


def test_missing_secret_is_refused(docker_compose: str, tmp_path: Path) -> None:
    proc = _run_config(
        docker_compose, tmp_path, COMPOSE_FILE, _test_env(drop=("WAREHOUSE_PASSWORD",))
    )
    assert proc.returncode != 0
    assert "WAREHOUSE_PASSWORD" in proc.stderr


def test_misspelled_option_is_rejected(docker_compose: str, tmp_path: Path) -> None:
    """The check can fail: a typo in an option name makes `docker-compose config` exit non-zero."""
    good = tmp_path / "good.yml"
    bad = tmp_path / "bad.yml"
    text = COMPOSE_FILE.read_text()
    assert "\n    environment:\n" in text
    good.write_text(text)
    bad.write_text(text.replace("\n    environment:\n", "\n    environmen:\n", 1))

    assert _run_config(docker_compose, tmp_path, good, _test_env()).returncode == 0
    proc = _run_config(docker_compose, tmp_path, bad, _test_env())
    assert proc.returncode != 0
    assert "environmen" in proc.stderr


def test_alerts_and_calendars_reach_every_airflow_component(services: dict[str, Any]) -> None:
    """The deadline monitor and the failure callbacks run in the scheduler's workers; the
    timetables resolve holidays in the scheduler and the dag-processor."""
    for name in AIRFLOW_SERVICES:
        env = _env(services[name])
        assert env["REGREPORT_ALERT_CHANNELS"] == "log", name
        # The alert log lands on the mounted logs folder, so it outlives the container.
        log_file = env["REGREPORT_ALERT_LOG"]
        assert any(log_file.startswith(target + "/") for target in _mounts(services[name])), name
        assert env["REGREPORT_REPORTING_TZ"] == "UTC", name
        assert "REGREPORT_EXTRA_HOLIDAYS_US" in env, name
