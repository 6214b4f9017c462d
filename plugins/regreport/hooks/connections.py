"""Turn Airflow Connections into a libpq DSN or an S3 client, inside a running task.

The core modules take plain DSNs and boto3 clients so they run without Airflow; secrets stay in
Airflow Connections (a secrets backend in production, `AIRFLOW_CONN_*` locally).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def postgres_dsn(conn_id: str) -> str:
    """A libpq URI built from a Postgres connection's host, port, login, password and schema."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    auth = quote(conn.login or "", safe="")
    if conn.password:
        auth += ":" + quote(conn.password, safe="")
    port = conn.port or 5432
    return f"postgresql://{auth}@{conn.host}:{port}/{conn.schema}"


def s3_client(conn_id: str) -> Any:
    """A boto3 S3 client from the Amazon provider's hook (endpoint and keys from the connection)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=conn_id).get_conn()


def sftp_target(conn_id: str) -> Any:
    """A pinned `regreport.sftp.SftpTarget` from an SFTP connection (`RegulatorGatewayHook`)."""
    from regreport.hooks.gateway import RegulatorGatewayHook

    return RegulatorGatewayHook(conn_id).get_conn()
