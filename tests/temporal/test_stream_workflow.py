"""The feed listener on Temporal, on real parts: dev server, PostgreSQL store, the sandbox's WebSocket feed.

The worker runs in this process (so the test reads its sink); the workflow, the activity's heartbeats and
their cancellation go through the real Temporal server.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError

from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.runtime.catalog import ManagerCatalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.store.postgres import PostgresStore
from fortnox_connector.runtime.streaming import checkpoint_key, stream_spec
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.temporal.activities import ConnectorActivities
from fortnox_connector.temporal.devserver import DevServer
from fortnox_connector.temporal.feed import start_stream
from fortnox_connector.temporal.worker import run_worker
from tests.runtime.runtime_support import add_connected, settings_for
from tests.stream.support import FAST, TIMEOUT, WaitingSink

pytestmark = pytest.mark.sandbox(feed=True, rate_limit=False)


@pytest.fixture
def runtime(sandbox: Sandbox, pg_url: str, tmp_path: Path) -> Iterator[Runtime]:
    from fortnox_connector import plugin

    settings = settings_for(sandbox, tmp_path).with_overrides(feed_url=sandbox.feed_url)
    rt = Runtime(settings=settings, store=PostgresStore(pg_url, Fernet.generate_key()))
    rt.catalog = ManagerCatalog(ConnectorManager.load(entry_points=False, plugins=[plugin]))
    add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
    try:
        yield rt
    finally:
        rt.close()


async def until(condition: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll a condition Temporal or the feed offers no notification for, within the tests' ceiling."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_feed_listener_runs_as_a_workflow_heartbeats_its_checkpoint_and_stops_when_cancelled(
    runtime: Runtime, sandbox: Sandbox, temporal_server: DevServer
) -> None:
    sink = WaitingSink()
    activities = ConnectorActivities(runtime, lambda: sink, stream_settings=FAST)
    queue = f"q-{uuid.uuid4().hex[:8]}"
    company = sandbox.tenant_ids()[0]
    key = checkpoint_key(stream_spec(runtime), sandbox.client_id)

    async def subscribed() -> bool:
        connections = await asyncio.to_thread(sandbox.feed_server.connections)  # type: ignore[union-attr]
        return any(c["subscribed"] for c in connections)

    async def scenario() -> dict[str, Any]:
        client = await Client.connect(temporal_server.address)
        stop, ready = asyncio.Event(), asyncio.Event()
        worker = asyncio.create_task(
            run_worker(client, activities, stop, task_queue=queue, ready=ready, graceful_s=5)
        )
        await ready.wait()
        try:
            handle, started = await start_stream(client, sandbox.client_id, task_queue=queue, heartbeat_s=3)
            _, again = await start_stream(client, sandbox.client_id, task_queue=queue, heartbeat_s=3)
            await until(subscribed, "the listener to subscribe to the feed")
            doc = sandbox.add_invoice(company, Total="500.00")["DocumentNumber"]
            number = sandbox.add_payment(company, str(doc), AmountCurrency="500.00")["Number"]
            sandbox.book_payment(company, str(number))
            booked = f"fortnox:acme:payment:{number}:booked"
            await asyncio.to_thread(sink.wait_keys, {booked})

            async def heartbeat_is_the_stored_checkpoint() -> str | None:
                described = await handle.describe()
                pending = described.raw_description.pending_activities
                if not pending or not pending[0].heartbeat_details.payloads:
                    return None
                [beat] = await client.data_converter.decode(pending[0].heartbeat_details.payloads)
                stored = await asyncio.to_thread(runtime.store.load_cursor, *key)
                return str(beat) if beat == stored else None

            checkpoint = await until(heartbeat_is_the_stored_checkpoint, "a heartbeat with the checkpoint")
            await handle.cancel()
            with pytest.raises(WorkflowFailureError) as ended:
                await handle.result()
            described = await handle.describe()
            return {
                "started": started,
                "again": again,
                "checkpoint": checkpoint,
                "cause": ended.value.cause,
                "status": described.status,
                "pending": list(described.raw_description.pending_activities),
                "workflow_id": handle.id,
                "booked": booked,
            }
        finally:
            stop.set()
            await worker

    out = asyncio.run(scenario())
    assert out["started"] and not out["again"]  # one listener per app: a second start finds it
    assert out["workflow_id"] == f"fortnox-stream/{sandbox.client_id}"
    assert out["checkpoint"]  # the heartbeat carried the committed checkpoint
    first = sink.events[0]  # the full payment also pays the invoice: invoice_paid may follow
    assert (first.trigger, first.dedup_key) == ("payment_received", out["booked"])
    assert isinstance(out["cause"], CancelledError)
    assert out["status"] == WorkflowExecutionStatus.CANCELED and out["pending"] == []  # the activity ended


def test_temporal_stream_starts_the_apps_listener_once_and_then_finds_it_running(
    temporal_server: DevServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fortnox_connector.runtime.cli import App, main

    queue = f"q-{uuid.uuid4().hex[:8]}"  # no worker serves it: the workflow waits, which is enough here
    env = {
        "FORTNOX_CONNECTOR_KEY": Fernet.generate_key().decode(),
        "FORTNOX_CLIENT_ID": f"app-{queue}",
        "FORTNOX_CLIENT_SECRET": "s",
    }
    args = ["--home", str(tmp_path), "temporal", "--address", temporal_server.address, "--task-queue", queue]
    assert main([*args, "stream"], app=App(env=env, configure_logs=False)) == 0
    assert main([*args, "stream"], app=App(env=env, configure_logs=False)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"fortnox-stream/app-{queue}: started on task queue {queue}",
        f"fortnox-stream/app-{queue}: already running on task queue {queue}",
    ]

    async def terminate() -> None:
        client = await Client.connect(temporal_server.address)
        await client.get_workflow_handle(f"fortnox-stream/app-{queue}").terminate("test done")

    asyncio.run(terminate())
