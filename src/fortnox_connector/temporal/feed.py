"""The feed listener as a long-running activity: ``StreamHost`` until cancelled, its checkpoint heartbeated.

Each committed checkpoint (delivered first, then committed to the cursor store) becomes the activity's
heartbeat details, and a quiet feed still heartbeats the last one every third of the heartbeat timeout, so
Temporal can tell a live listener from a dead one and deliver a cancellation. A retried attempt (its worker
died, or the feed failed) resumes from the last heartbeat's checkpoint — never beyond what was delivered.
Cancellation (the workflow cancelled, the worker shutting down) stops the source, lets the batch in hand be
delivered and committed, then ends the attempt as cancelled. ``start_stream`` starts the workflow (the
``temporal stream`` command).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.streaming import StreamHost, stream_spec
from fortnox_connector.temporal.shapes import (
    HEARTBEAT_S,
    STREAM_WORKFLOW,
    TASK_QUEUE,
    StreamJob,
    StreamResult,
    stream_workflow_id,
)

DRAIN_S = 30.0  # how long a cancelled listener may take to deliver and commit the batch in hand


class Beat:
    """The checkpoint to heartbeat: the one resumed from, then each committed one."""

    def __init__(self, checkpoint: str | None) -> None:
        self.checkpoint = checkpoint

    def commit(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint
        self.send()

    def send(self) -> None:
        details: tuple[Any, ...] = () if self.checkpoint is None else (self.checkpoint,)
        activity.heartbeat(*details)


def resumed_checkpoint() -> str | None:
    """The last heartbeat's checkpoint of an earlier attempt (``None`` on the first: the stored one)."""
    details = activity.info().heartbeat_details
    return str(details[0]) if details else None


async def listen(
    runtime: Runtime, sink: Sink, job: StreamJob, *, settings: dict[str, object]
) -> StreamResult:
    """Run the app's stream until cancelled (then re-raise) or until the source ends by itself."""
    app, _ = runtime.settings.require_client()
    if app != job.client_id:
        raise ApplicationError(
            f"this worker runs app {app!r}, not {job.client_id!r}: start the stream on that app's task queue",
            non_retryable=True,
        )
    beat = Beat(resumed_checkpoint())
    host = StreamHost(
        runtime,
        stream_spec(runtime, job.stream),
        sink,
        settings=settings,
        on_commit=beat.commit,
        checkpoint=beat.checkpoint,
    )
    task = asyncio.ensure_future(host.run())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=job.heartbeat_s / 3)
            beat.send()
        report = task.result()
    except asyncio.CancelledError:
        host.stop()  # the source ends after the batch in hand is delivered and committed
        await asyncio.wait({task}, timeout=DRAIN_S)
        raise
    return StreamResult(batches=report.batches, delivered=report.delivered, checkpoint=beat.checkpoint)


async def start_stream(
    client: Client, client_id: str, *, task_queue: str = TASK_QUEUE, heartbeat_s: float = HEARTBEAT_S
) -> tuple[WorkflowHandle[Any, StreamResult], bool]:
    """Start the app's listener, or find the one running (one per id): its handle and whether it is new."""
    workflow_id = stream_workflow_id(client_id)
    try:
        handle = await client.start_workflow(
            STREAM_WORKFLOW,
            StreamJob(client_id, heartbeat_s=heartbeat_s),
            id=workflow_id,
            task_queue=task_queue,
            result_type=StreamResult,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,  # a stopped listener may start again
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id, result_type=StreamResult), False
    return handle, True
