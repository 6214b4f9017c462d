"""Submit a run's report files to the regulator: a thin operator over `regreport.transmit`.

Exactly once per file (registry and gateway both checked, see `regreport.transmit`); earlier
files never submitted go first. Connection errors are retried inside the task (backoff) and then
by Airflow; a refused host key or login fails the task at once, without Airflow retries, since
repeating cannot help and may lock the account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context


class SubmitToRegulatorOperator(BaseOperator):
    """Upload the files registered by the run to the regulator's SFTP gateway.

    Args:
        registered: The register step's summary (its "files" carry report ids and paths).
        conn_id: The gateway's SFTP connection (`RegulatorGatewayHook`).
        warehouse_conn_id: The warehouse Postgres connection.
    """

    template_fields: Sequence[str] = ("registered",)

    def __init__(
        self, *, registered: Any, conn_id: str, warehouse_conn_id: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.registered = registered
        self.conn_id = conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Submit; return what was sent (kept in the run summary under "submission")."""
        import psycopg

        from regreport import config, sftp
        from regreport.hooks.connections import postgres_dsn
        from regreport.hooks.gateway import RegulatorGatewayHook
        from regreport.pipeline import submit
        from regreport.transmit import SubmissionFailedError

        target = RegulatorGatewayHook(self.conn_id).get_conn()
        with psycopg.connect(postgres_dsn(self.warehouse_conn_id)) as conn:
            try:
                return submit(
                    config.Settings.from_env(),
                    conn,
                    target,
                    self.registered,
                    run_id=context["run_id"],
                )
            except SubmissionFailedError as exc:
                refused = (sftp.HostKeyMismatchError, sftp.SftpAuthenticationError)
                if isinstance(exc.__cause__, refused):
                    raise AirflowFailException(str(exc)) from exc
                raise
