"""Deployment settings, read once from the environment with local defaults.

Everything that differs between a laptop, CI and production (ports, paths, bucket, retention)
is an environment variable here; secrets for Airflow come from Airflow Connections that
`airflow_env()` builds for the local stack. Defaults describe the embedded local services that
`regreport services start` runs, so a fresh clone works with no configuration at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The repository root when running from a checkout (plugins/regreport/config.py -> ../../..).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Airflow connection ids used by the DAGs, one database login per pipeline stage (least
#: privilege, see docs/security.md): the reporting stage (render, register, submit, feedback,
#: reconciliation, audit) ...
WAREHOUSE_CONN_ID = "warehouse_postgres"
#: ... extraction (reads the source, writes `raw`) ...
SOURCE_CONN_ID = "qsuite_postgres"
EXTRACT_CONN_ID = "warehouse_extract"
#: ... and transformation (dbt and the rule gate).
TRANSFORM_CONN_ID = "warehouse_transform"
#: The pipeline stages with a database login of their own (`regreport.roles`).
DB_STAGES = ("extract", "transform", "report", "auditor")
S3_CONN_ID = "reports_s3"
#: The regulator's SFTP reporting gateway (locally: the simulator, `regreport.services.gateway`).
SFTP_CONN_ID = "regulator_sftp"

REPORT_TYPE_MIFIR = "mifir_rts22"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _path(name: str, default: Path) -> Path:
    return Path(_env(name, str(default))).expanduser().resolve()


#: Retention per record type in years, e.g. "mifir_rts22=6,feedback=6,audit=7". Empty by
#: default: every type keeps `retention_days` (six years, SEC 17a-4(a); MiFIR Art. 25 asks five),
#: so REGREPORT_RETENTION_DAYS alone still sets it for everything.
DEFAULT_RETENTION_YEARS = ""


def _years(text: str) -> dict[str, int]:
    """Parse ``type=years,type=years``; a malformed entry fails loudly (it sets a legal duty)."""
    years: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit() or int(value) <= 0:
            raise ValueError(
                f"REGREPORT_RETENTION_YEARS: expected 'type=years' with positive whole years, "
                f"got {item!r}"
            )
        years[name.strip()] = int(value)
    return years


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment. Build with `Settings.from_env()`."""

    home: Path
    repo_root: Path
    schemas_dir: Path
    refdata_dir: Path
    output_dir: Path
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    source_db: str
    warehouse_db: str
    airflow_db: str
    s3_endpoint: str
    s3_port: int
    s3_bucket: str
    s3_access_key: str
    s3_secret_key: str
    s3_region: str
    retention_days: int
    airflow_port: int
    schema_version: str
    task_retries: int
    nca_country: str | None
    #: A submission is split into files of at most this many records (0: no limit).
    max_records_per_file: int = 500_000
    #: ... and at most this many bytes (0: no limit); whichever limit comes first.
    max_bytes_per_file: int = 0
    #: File naming convention: a name from `regreport.naming.CONVENTIONS`, or a template.
    file_naming: str = "regreport"
    seaweed_ports: dict[str, int] = field(default_factory=dict)
    #: The regulator's SFTP gateway (locally: the simulator that `regreport services` runs).
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 18022
    gateway_user: str = "regreport"
    gateway_password: str = "regreport-local-sftp"  # noqa: S105 - the local simulator only.
    #: The firm's folder at the gateway (`firms/<firm>/inbox|outbox` of the simulator).
    gateway_firm: str = "qsuite"
    #: Retention in whole years per record type (report type, "feedback", "audit"); a type
    #: not listed keeps `retention_days`.
    retention_years: dict[str, int] = field(default_factory=dict)
    #: Login password of each stage's database user (``regreport_<stage>_user``), from
    #: ``REGREPORT_DB_PASSWORD_<STAGE>``; the local stack has defaults (it trusts loopback).
    db_passwords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """Read `REGREPORT_*` variables; unset ones take the local defaults."""
        home = _path("REGREPORT_HOME", REPO_ROOT / ".regreport")
        shared = REPO_ROOT.parent / "shared"
        s3_port = int(_env("REGREPORT_S3_PORT", "18333"))
        return cls(
            home=home,
            repo_root=REPO_ROOT,
            schemas_dir=_path("REGREPORT_SCHEMAS_DIR", shared / "schemas" / "esma"),
            refdata_dir=_path("REGREPORT_REFDATA_DIR", shared / "refdata"),
            output_dir=_path("REGREPORT_OUTPUT_DIR", home / "output"),
            pg_host=_env("REGREPORT_PG_HOST", "127.0.0.1"),
            pg_port=int(_env("REGREPORT_PG_PORT", "55432")),
            pg_user=_env("REGREPORT_PG_USER", "postgres"),
            # The local cluster trusts loopback connections; Airflow connections still need one.
            pg_password=_env("REGREPORT_PG_PASSWORD", "regreport"),
            source_db=_env("REGREPORT_SOURCE_DB", "qsuite"),
            warehouse_db=_env("REGREPORT_WAREHOUSE_DB", "warehouse"),
            airflow_db=_env("REGREPORT_AIRFLOW_DB", "airflow"),
            s3_endpoint=_env("REGREPORT_S3_ENDPOINT", f"http://127.0.0.1:{s3_port}"),
            s3_port=s3_port,
            s3_bucket=_env("REGREPORT_S3_BUCKET", "regreport-archive"),
            s3_access_key=_env("REGREPORT_S3_ACCESS_KEY", "regreport"),
            s3_secret_key=_env("REGREPORT_S3_SECRET_KEY", "regreport-local-secret"),
            s3_region=_env("REGREPORT_S3_REGION", "us-east-1"),
            # SEC 17a-4(a): six years; MiFIR Art. 25 asks five. Six years and two leap days.
            retention_days=int(_env("REGREPORT_RETENTION_DAYS", "2192")),
            airflow_port=int(_env("REGREPORT_AIRFLOW_PORT", "18080")),
            # ESMA auth.016 usage-guideline version the files are written and checked against.
            schema_version=_env("REGREPORT_ESMA_SCHEMA_VERSION", "1.1.0"),
            # Retries per Airflow task; tests that expect a failure set 0.
            task_retries=int(_env("REGREPORT_TASK_RETRIES", "2")),
            # The competent authority the files go to; defaults to the firm's home country.
            nca_country=os.environ.get("REGREPORT_NCA_COUNTRY") or None,
            max_records_per_file=int(_env("REGREPORT_MAX_RECORDS_PER_FILE", "500000")),
            max_bytes_per_file=int(_env("REGREPORT_MAX_BYTES_PER_FILE", "0")),
            file_naming=_env("REGREPORT_FILE_NAMING", "regreport"),
            seaweed_ports={
                "master": int(_env("REGREPORT_SEAWEED_MASTER_PORT", "19333")),
                "volume": int(_env("REGREPORT_SEAWEED_VOLUME_PORT", "18081")),
                "filer": int(_env("REGREPORT_SEAWEED_FILER_PORT", "18888")),
            },
            gateway_host=_env("REGREPORT_GATEWAY_HOST", "127.0.0.1"),
            gateway_port=int(_env("REGREPORT_GATEWAY_PORT", "18022")),
            gateway_user=_env("REGREPORT_GATEWAY_USER", "regreport"),
            gateway_password=_env("REGREPORT_GATEWAY_PASSWORD", "regreport-local-sftp"),
            gateway_firm=_env("REGREPORT_GATEWAY_FIRM", "qsuite"),
            retention_years=_years(_env("REGREPORT_RETENTION_YEARS", DEFAULT_RETENTION_YEARS)),
            db_passwords={
                stage: _env(f"REGREPORT_DB_PASSWORD_{stage.upper()}", f"regreport-local-{stage}")
                for stage in DB_STAGES
            },
        )

    def retention_days_for(self, record_type: str) -> int:
        """Days a record of this type must be kept (WORM retention).

        Years are turned into days with the most leap days any run of that many years can
        hold (``365 * y + ceil(y / 4)``: six years are 2192 days), so the retention never ends
        a day before the legal period does.

        Args:
            record_type: A report type (e.g. "mifir_rts22"), "feedback" or "audit".

        Returns:
            Retention in days: from `retention_years`, else `retention_days`.
        """
        years = self.retention_years.get(record_type)
        if years is None:
            return self.retention_days
        return 365 * years + (years + 3) // 4

    def dsn(self, database: str) -> str:
        """A libpq URI for one database of the local cluster, as the admin."""
        return f"postgresql://{self.pg_user}@{self.pg_host}:{self.pg_port}/{database}"

    @staticmethod
    def db_user(stage: str) -> str:
        """The database login of a pipeline stage (``regreport_report_user``)."""
        return f"regreport_{stage}_user"

    @property
    def source_dsn(self) -> str:
        """The QSuite trading database (the system we report from)."""
        return _env("REGREPORT_SOURCE_DSN", self.dsn(self.source_db))

    @property
    def warehouse_dsn(self) -> str:
        """The reporting warehouse (raw landings, dbt models, registry)."""
        return _env("REGREPORT_WAREHOUSE_DSN", self.dsn(self.warehouse_db))

    @property
    def airflow_home(self) -> Path:
        """AIRFLOW_HOME for the embedded local Airflow."""
        return self.home / "airflow"

    @property
    def dbt_project_dir(self) -> Path:
        """The dbt project shipped in the repository."""
        return _path("REGREPORT_DBT_PROJECT_DIR", self.repo_root / "dbt_project")

    @property
    def gateway_root(self) -> Path:
        """Root folder of the local regulator gateway simulator (config, keys, firm folders)."""
        return _path("REGREPORT_GATEWAY_ROOT", self.home / "gateway")

    @property
    def gx_root_dir(self) -> Path:
        """Root of the committed Great Expectations File Data Context."""
        return _path("REGREPORT_GX_ROOT_DIR", self.repo_root / "expectations")
