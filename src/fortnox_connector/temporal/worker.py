"""A worker process: polls the task queue, runs workflows (async) and activities (threads) until stopped.

Activities are synchronous (the runtime is), so they run on a thread pool: ``concurrency`` regular
activities (heartbeating slices of long runs, actions) and ``concurrency`` local ones (the first, short
slice of every trigger run) at a time, a thread each. Stopping (SIGTERM/SIGINT) lets running activities
finish for up to ``graceful_s`` seconds; a worker killed outright loses nothing: its slices are retried
elsewhere after the heartbeat timeout, from the committed cursor, and its advisory locks die with its
sessions.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from fortnox_connector.temporal.activities import ConnectorActivities
from fortnox_connector.temporal.shapes import TASK_QUEUE
from fortnox_connector.temporal.workflows import WORKFLOWS


async def run_worker(
    client: Client,
    activities: ConnectorActivities,
    stop: asyncio.Event,
    *,
    task_queue: str = TASK_QUEUE,
    concurrency: int = 8,
    graceful_s: float = 30.0,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve ``task_queue`` until ``stop`` is set."""
    with ThreadPoolExecutor(max_workers=2 * concurrency, thread_name_prefix="activity") as pool:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            activities=[activities.run_trigger_slice, activities.run_action, activities.stream_feed],
            activity_executor=pool,
            max_concurrent_activities=concurrency,
            max_concurrent_local_activities=concurrency,
            graceful_shutdown_timeout=timedelta(seconds=graceful_s),
        )
        async with worker:
            if ready is not None:
                ready.set()
            await stop.wait()
