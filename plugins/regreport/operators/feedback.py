"""Wait for the regulator's answer without holding a worker: a deferrable operator.

`AwaitRegulatorFeedbackOperator` collects the feedback already in the gateway's outbox
(`regreport.transmit.collect_feedback`) and succeeds once every file of the run has a verdict
(ACCEPTED, PARTIALLY_ACCEPTED or REJECTED). Until then it defers to `GatewayOutboxTrigger`,
which polls the outbox listing from the triggerer and wakes the task only when a file it has
not seen appears. Records still pending on reference data (CON-411) do not keep the run
waiting: the `mifir_feedback_collect` DAG keeps collecting until they are final.

A feedback file that cannot be applied (unsafe, invalid, about no submitted file) is recorded
with a reason code and fails the task: nothing is silent, and the next collection does not
trip on it again.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from airflow.sdk import Context


class GatewayOutboxTrigger(BaseTrigger):
    """Fire when the gateway's outbox lists a file not in `known`, or at `deadline`.

    Args:
        conn_id: The SFTP connection of the gateway account.
        known: Outbox file names already processed.
        deadline: ISO timestamp after which the trigger fires with status "timeout".
        poll_seconds: Time between two listings.
        rounds: How many times the task has deferred so far (echoed in the event).
    """

    def __init__(
        self,
        conn_id: str,
        known: Sequence[str],
        deadline: str,
        poll_seconds: float = 10.0,
        rounds: int = 0,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.known = sorted(known)
        self.deadline = deadline
        self.poll_seconds = poll_seconds
        self.rounds = rounds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs (names only: the credentials stay in the connection)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "known": self.known,
                "deadline": self.deadline,
                "poll_seconds": self.poll_seconds,
                "rounds": self.rounds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the listing (in a thread: the SFTP client is blocking) until something new."""
        from regreport.hooks.connections import sftp_target
        from regreport.sftp import GatewayUnavailable, RetryPolicy, list_outbox

        deadline = datetime.fromisoformat(self.deadline)
        known = set(self.known)
        target = await asyncio.to_thread(sftp_target, self.conn_id)
        once = RetryPolicy(attempts=1)
        while True:
            try:
                listing = await asyncio.to_thread(list_outbox, target, retry=once)
            except GatewayUnavailable as exc:
                self.log.warning("gateway outbox not reachable (%s); polling on", exc)
                listing = []
            new = sorted(f.name for f in listing if f.name not in known)
            if new:
                yield TriggerEvent(
                    {
                        "status": "new_feedback",
                        "files": new,
                        "deadline": self.deadline,
                        "rounds": self.rounds,
                    }
                )
                return
            if datetime.now(tz=UTC) >= deadline:
                yield TriggerEvent(
                    {"status": "timeout", "deadline": self.deadline, "rounds": self.rounds}
                )
                return
            await asyncio.sleep(self.poll_seconds)


class AwaitRegulatorFeedbackOperator(BaseOperator):
    """Collect feedback until every file of the run has the regulator's verdict.

    Args:
        submitted: The `submit_report` task's result (report ids under "files").
        conn_id: The gateway's SFTP connection.
        warehouse_conn_id: The warehouse Postgres connection.
        timeout: How long to wait for the verdicts before failing.
        poll_seconds: Outbox polling interval of the trigger.
    """

    template_fields: Sequence[str] = ("submitted",)

    def __init__(
        self,
        *,
        submitted: Any,
        conn_id: str,
        warehouse_conn_id: str,
        timeout: timedelta = timedelta(hours=6),
        poll_seconds: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.submitted = submitted
        self.conn_id = conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.wait_timeout = timeout
        self.poll_seconds = poll_seconds

    def execute(self, context: Context) -> dict[str, Any]:
        """Collect once; done if every file has a verdict, else defer to the trigger."""
        deadline = datetime.now(tz=UTC) + self.wait_timeout
        return self._collect_or_defer(deadline, rounds=0)

    def resume(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Back from the trigger: collect again, or fail on timeout."""
        event = event or {}
        deadline = datetime.fromisoformat(event.get("deadline") or _now_iso())
        rounds = int(event.get("rounds") or 0) + 1
        return self._collect_or_defer(
            deadline, final=event.get("status") == "timeout", rounds=rounds
        )

    def _collect_or_defer(
        self, deadline: datetime, *, rounds: int, final: bool = False
    ) -> dict[str, Any]:
        """Collect; return the answer if complete, else defer (`rounds`: deferrals so far)."""
        import psycopg

        from regreport import config, transmit
        from regreport.hooks.connections import postgres_dsn
        from regreport.pipeline import update_summary

        settings = config.Settings.from_env()
        report_ids = [f["report_id"] for f in (self.submitted or {}).get("files", [])]
        with psycopg.connect(postgres_dsn(self.warehouse_conn_id)) as conn:
            collect_new_feedback(conn, self.conn_id)
            waiting = transmit.pending_files(conn, report_ids)
            answer = transmit.regulator_answer(conn, report_ids)
            known = sorted(transmit.seen_feedback(conn))
        if not waiting:
            answer["deferrals"] = rounds
            update_summary(settings, self.submitted.get("period"), "regulator", answer)
            self.log.info("regulator's answer: %s", json.dumps(answer, default=str))
            return answer
        if final or datetime.now(tz=UTC) >= deadline:
            raise TimeoutError(
                f"no verdict from the regulator on report(s) {waiting} by "
                f"{deadline:%Y-%m-%d %H:%M} UTC; the files are submitted, and "
                "mifir_feedback_collect keeps collecting their feedback"
            )
        self.log.info("waiting for the regulator's verdict on report(s) %s", waiting)
        self.defer(
            trigger=GatewayOutboxTrigger(
                self.conn_id, known, deadline.isoformat(), self.poll_seconds, rounds
            ),
            method_name="resume",
        )
        raise AssertionError("unreachable: defer() raises")  # pragma: no cover


def collect_new_feedback(conn: Any, conn_id: str) -> Any:
    """Collect, archive and apply new feedback (`regreport.transmit.collect_feedback`).

    Raises:
        AirflowFailException: A feedback file was refused. No retry: refused files are recorded
            and not collected again, so a retry would pass and hide them.
    """
    from regreport import config, transmit
    from regreport.hooks.connections import s3_client, sftp_target
    from regreport.pipeline import archive_feedback

    settings = config.Settings.from_env()
    client = s3_client(config.S3_CONN_ID)
    collected = transmit.collect_feedback(
        conn,
        sftp_target(conn_id),
        settings.home / "feedback",
        schemas_dir=settings.schemas_dir,
        archive=lambda path, sha: archive_feedback(settings, client, path, sha),
    )
    if collected.refused:
        raise AirflowFailException(
            f"{len(collected.refused)} feedback file(s) refused and quarantined: "
            + json.dumps(collected.refused, default=str)
        )
    return collected


def _now_iso() -> str:
    return datetime.now(tz=UTC).isoformat()
