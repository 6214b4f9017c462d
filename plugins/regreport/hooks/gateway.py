"""The regulator's SFTP gateway as an Airflow hook: a pinned `SftpTarget` from a connection.

The transfer logic (exactly-once upload, outbox listing, atomic download) is in the
Airflow-free `regreport.sftp` and `regreport.transmit`; this hook only turns the connection into
a target, so the same code runs in tasks, in the triggerer and in tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from pathlib import Path

    from regreport.sftp import RemoteFile, RetryPolicy, SftpTarget, UploadResult


class RegulatorGatewayHook(BaseHook):
    """One firm's account on the regulator's SFTP gateway.

    The connection (type ``sftp``) holds host, port, login and password (or ``private_key`` in
    the extra) and, in the extra, the pinned ``host_key`` (a known_hosts line) or a
    ``host_key_file`` to read it from; ``inbox`` and ``outbox`` name the folders. Host-key
    checking cannot be switched off.

    Args:
        conn_id: The connection id (default `regulator_sftp`).
    """

    conn_name_attr = "conn_id"
    default_conn_name = "regulator_sftp"
    conn_type = "sftp"
    hook_name = "Regulator SFTP gateway"

    def __init__(self, conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.conn_id = conn_id

    def get_conn(self) -> SftpTarget:
        """The pinned target described by the connection."""
        from regreport.sftp import SftpTarget

        conn = self.get_connection(self.conn_id)
        return SftpTarget.from_mapping(
            {
                "host": conn.host,
                "port": conn.port,
                "login": conn.login,
                "password": conn.password,
                "extra": conn.extra_dejson,
            }
        )

    def upload_once(
        self, path: Path, remote_name: str, sha256: str, retry: RetryPolicy | None = None
    ) -> UploadResult:
        """Deliver a file to the inbox exactly once (`regreport.sftp.upload_once`)."""
        from regreport.sftp import upload_once

        return upload_once(self.get_conn(), path, remote_name, sha256, retry=retry)

    def list_outbox(self, retry: RetryPolicy | None = None) -> list[RemoteFile]:
        """The feedback files in the outbox (`regreport.sftp.list_outbox`)."""
        from regreport.sftp import list_outbox

        return list_outbox(self.get_conn(), retry=retry)

    def test_connection(self) -> tuple[bool, str]:
        """Log in with the pinned key and list the outbox (the UI's "Test" button)."""
        from regreport.sftp import RetryPolicy, SftpError

        try:
            files = self.list_outbox(RetryPolicy(attempts=1))
        except (SftpError, OSError, ValueError) as exc:
            return False, str(exc)
        return True, f"connected; {len(files)} file(s) in the outbox"

    def describe(self) -> dict[str, Any]:
        """Host, port and user (no secrets), for logs and summaries."""
        target = self.get_conn()
        return {"host": target.host, "port": target.port, "username": target.username}
