"""The activities: the runtime's own job functions, run by a worker for one tenant at a time.

``run_trigger_slice`` is ``jobs.run_tenant_trigger`` with a deadline: it takes the run lock (an advisory lock
in PostgreSQL, so one run per tenant and trigger across workers) without waiting — held by another run, the
slice returns "already running" — skips a paused tenant, drains the outbox, then polls page by page — each
page saved with its cursor, delivered, and only then the cursor committed — until the trigger has nothing
more or the slice's time is up. As a regular activity it heartbeats after every page, so a worker that dies
mid-backfill is noticed within the heartbeat timeout and the slice retried on another worker from the
committed cursor (the outbox first); as a local activity (a trigger's first, short slice) its worker's death
is noticed by the night's workflow task timeout instead, and the slice re-run the same way.
``run_action`` is the CLI's ``run_action`` (run history, pause on reconnect); ``register_payment``'s own
idempotency record backs the workflow id up.
``stream_feed`` is the WebSocket feed listener, async and long-running (``feed.py``).

The synchronous activities are never interrupted by a cancellation (``no_thread_cancel_exception``): the SDK
would otherwise raise ``CancelledError`` inside the thread at any bytecode — in the middle of httpx's
connection-pool lock or between taking an advisory lock and the ``try`` that releases it — and a worker's
HTTP pool deadlocked that way in the 1,000-tenant bench (a local slice is cancelled whenever its night is
evicted from the worker's cache). A cancelled slice ends by itself at its deadline, its result dropped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from temporalio import activity

from fortnox_connector.contract.records import RunSummary
from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import JobResult, run_lock_name, run_tenant_trigger
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.sinks.encoding import dumps
from fortnox_connector.temporal.failures import as_failure, pauses_tenant
from fortnox_connector.temporal.shapes import (
    ACTION_ACTIVITY,
    SLICE_ACTIVITY,
    STREAM_ACTIVITY,
    ActionJob,
    SliceResult,
    StreamJob,
    StreamResult,
    TriggerJob,
)

DEFAULT_SLICE_SECONDS = 60.0


class ConnectorActivities:
    """The activities of one worker process over its ``runtime`` (store, catalog, HTTP pool, pacers)."""

    def __init__(
        self,
        runtime: Runtime,
        sink_factory: Callable[[], Sink],
        *,
        slice_seconds: float = DEFAULT_SLICE_SECONDS,
        stream_settings: dict[str, object] | None = None,
    ) -> None:
        self.runtime = runtime
        self.sink_factory = sink_factory
        self.slice_seconds = slice_seconds
        self.stream_settings = stream_settings or {}

    @activity.defn(name=SLICE_ACTIVITY, no_thread_cancel_exception=True)
    def run_trigger_slice(self, job: TriggerJob) -> SliceResult:
        """Run ``job``'s trigger for at most ``slice_seconds`` (whole pages); raise its error as a failure."""
        spec = self.runtime.catalog.trigger(job.trigger)
        seconds = min(job.slice_s, self.slice_seconds) if job.slice_s is not None else self.slice_seconds
        local = activity.info().is_local

        def progress(summary: RunSummary) -> None:
            if not local:  # a local activity has no heartbeat: its night's workflow task stands for it
                activity.heartbeat(summary.pages)

        with self._run_lock(job) as free:
            if not free:
                return SliceResult(already_running=True)
            sink = self.sink_factory()
            try:
                result = run_tenant_trigger(
                    self.runtime,
                    job.tenant,
                    spec,
                    sink,
                    progress=progress,
                    deadline=time.monotonic() + seconds,
                )
            finally:
                sink.close()
        return self._outcome(job.tenant, result)

    def _run_lock(self, job: TriggerJob) -> AbstractContextManager[bool]:
        """The run lock of ``job``'s (tenant, trigger) if free (``run_tenant_trigger`` re-enters it)."""
        try_lock = getattr(self.runtime.store, "try_lock", None)
        if try_lock is None:  # a store without one (tests of SQLite hosts): the run waits for the lock
            return nullcontext(True)
        held: AbstractContextManager[bool] = try_lock(run_lock_name(job.tenant, job.trigger))
        return held

    def _outcome(self, tenant: str, result: JobResult) -> SliceResult:
        s = result.summary
        if result.skipped:
            return SliceResult(skipped=True, reason=str(result.error) if result.error else None)
        error = result.error
        if error is not None:
            if pauses_tenant(error) and not result.paused:
                self.runtime.store.pause_tenant(tenant, str(error))
            raise as_failure(error)
        return SliceResult(
            complete=result.complete,
            pages=s.pages,
            events=s.events,
            delivered=result.delivered,
            redelivered=result.redelivered,
            requests=s.requests,
            rate_limited=getattr(s, "rate_limited", 0),
        )

    @activity.defn(name=ACTION_ACTIVITY, no_thread_cancel_exception=True)
    def run_action(self, job: ActionJob) -> dict[str, Any]:
        """Run the action under the tenant's context; its output as JSON values (decimals as strings)."""
        from fortnox_connector.runtime.cli.running import run_action

        try:
            output = run_action(self.runtime, job.tenant, job.action, job.input)
        except ConnectorError as exc:
            if pauses_tenant(exc) and not self.runtime.store.require_tenant(job.tenant).paused:
                self.runtime.store.pause_tenant(job.tenant, str(exc))
            raise as_failure(exc, action=True) from None
        decoded: dict[str, Any] = json.loads(dumps(dict(output)))
        return decoded

    @activity.defn(name=STREAM_ACTIVITY)
    async def stream_feed(self, job: StreamJob) -> StreamResult:
        """The app's feed listener until cancelled, heartbeating its checkpoint (``feed.listen``)."""
        from fortnox_connector.temporal.feed import listen

        sink = self.sink_factory()
        try:
            return await listen(self.runtime, sink, job, settings=self.stream_settings)
        finally:
            sink.close()
