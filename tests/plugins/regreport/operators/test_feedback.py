"""The outbox trigger behind `await_feedback`, against the real gateway simulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from regreport.gateway.server import GatewayServer
from regreport.operators.feedback import GatewayOutboxTrigger

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.integration

#: Set by the `gateway_server` fixture (tests/plugins/regreport/conftest.py).
CONN_ID = "trigger_test_sftp"


async def _first_event(trigger: GatewayOutboxTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def _deadline(seconds: float) -> str:
    return (datetime.now(tz=UTC) + timedelta(seconds=seconds)).isoformat()


def test_fires_on_a_file_it_has_not_seen(gateway_server: GatewayServer) -> None:
    outbox = gateway_server.gateway.config.firm_dir("FIRM") / "outbox"
    (outbox / "OLD_FDBK_001.xml").write_text("<old/>")
    (outbox / ".HALF_FDBK_001.xml.tmp").write_text("<partial")  # in progress: ignored
    trigger = GatewayOutboxTrigger(
        CONN_ID, ["OLD_FDBK_001.xml"], _deadline(60), poll_seconds=0.05, rounds=2
    )

    async def scenario() -> dict:
        waiting = asyncio.create_task(_first_event(trigger))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # only known and temporary files so far
        (outbox / "NEW_FDBK_001.xml").write_text("<new/>")
        return await asyncio.wait_for(waiting, timeout=30)

    event = asyncio.run(scenario())
    assert event["status"] == "new_feedback"
    assert event["files"] == ["NEW_FDBK_001.xml"]
    assert event["rounds"] == 2


def test_times_out_at_the_deadline(gateway_server: GatewayServer) -> None:
    trigger = GatewayOutboxTrigger(CONN_ID, [], _deadline(0.2), poll_seconds=0.05)
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=30))
    assert event["status"] == "timeout"


def test_keeps_polling_while_the_gateway_is_down(gateway_server: GatewayServer) -> None:
    """An unreachable gateway is not an answer: the trigger polls on until its deadline."""
    port = gateway_server.port
    gateway_server.stop()
    trigger = GatewayOutboxTrigger(CONN_ID, [], _deadline(0.5), poll_seconds=0.05)
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=60))
    assert event["status"] == "timeout"
    assert port
