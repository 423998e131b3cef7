"""One run of one trigger for one tenant, the way the reference runtime does it.

Order matters (Airbyte's rule: a cursor moves only past delivered events):

1. take the store lock ``run:<tenant>:<trigger>`` — one run per (tenant, trigger) at a time, across
   threads and processes (a second caller waits for the first to finish) — and only then look whether the
   tenant is paused (the run waited for may have paused it): a paused tenant is not run;
2. drain the outbox: events a crashed run saved but did not deliver go out first, and their cursor is
   committed;
3. poll page by page from the committed cursor; each page's events are saved in the outbox together with
   the cursor they lead to (one transaction), delivered to the sink, marked delivered, and only then is the
   cursor committed (``OutboxDelivery`` + ``runner.run_trigger``);
4. record the run in run history: its start when it first saves or sends an event (a run doing work shows
   as running, and one killed stays visible as never finished), its end once, together with the cursor of
   a last page without events (``OutboxDelivery`` holds it), in one write transaction — so an idle run
   (nothing new) makes exactly one write transaction (issue #17); on ``ReconnectRequired`` pause the
   tenant (the scheduler skips paused tenants until ``connect`` succeeds) and report it;
5. log the run's summary (pages, requests, events, skipped, delivered, duration) as one line whose fields
   are also structured (``--log-json``), under the tenant's ``tenant_scope`` like every line of the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from fortnox_connector.contract.connector import BoundTrigger
from fortnox_connector.contract.records import RunSummary, TriggerSpec
from fortnox_connector.errors import ConnectorError, ReconnectRequired
from fortnox_connector.runtime import refreshes
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.logs import tenant_logger, tenant_scope
from fortnox_connector.runtime.runner import Progress, run_trigger
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.store import OutboxDelivery
from fortnox_connector.runtime.store.base import TenantRecord


def run_lock_name(tenant: str, trigger: str) -> str:
    """The store lock held for the whole of one run of ``trigger`` for ``tenant``."""
    return f"run:{tenant}:{trigger}"


class TenantPaused(ConnectorError):
    """The tenant is paused (it must reconnect) and was not run."""


@dataclass(slots=True)
class JobResult:
    """How one run ended; ``error`` is set when it stopped on one (the cursor is where delivery got)."""

    tenant: str
    trigger: str
    run_id: int | None = None
    summary: RunSummary = field(default_factory=RunSummary)
    redelivered: int = 0  # events a crashed run had left in the outbox, delivered first
    delivered: int = 0  # every event the sink accepted in this run (redelivered included)
    cursor: str | None = None
    complete: bool = False
    stopped_by_deadline: bool = False
    paused: bool = False  # this run paused the tenant (ReconnectRequired)
    skipped: bool = False  # the tenant was paused before: nothing ran
    ran_elsewhere: bool = False  # another process ran this scheduled slot first: nothing ran
    token_refreshes: int = 0  # tokens refreshed for this run's requests (refreshes.py)
    error: ConnectorError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        """``ok`` (complete), ``partial`` (stopped by a deadline), ``paused`` or ``error``."""
        if self.paused or self.skipped:
            return "paused"
        if self.error is not None:
            return "error"
        return "ok" if self.complete else "partial"

    def record(self) -> dict[str, Any]:
        """What run history keeps (no payloads, no secrets)."""
        return {
            **asdict(self.summary),
            "redelivered": self.redelivered,
            "delivered": self.delivered,
            "complete": self.complete,
            "stopped_by_deadline": self.stopped_by_deadline,
            "paused": self.paused,
            "token_refreshes": self.token_refreshes,
        }


def run_tenant_trigger(
    runtime: Runtime,
    tenant: str,
    trigger: TriggerSpec[Any],
    sink: Sink,
    *,
    progress: Progress | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    chunk: int = 500,
    slot: datetime | None = None,
) -> JobResult:
    """Run ``trigger`` for ``tenant`` to completion (or ``deadline``), delivering to ``sink``.

    Connector errors end the run and are returned in ``JobResult.error`` (naming the tenant); a paused
    tenant is not run (``skipped``, with a ``TenantPaused`` error saying to reconnect). ``slot``: the
    scheduled time this run is for; if a run of the trigger started at or after it by the time this one holds
    the run lock, another process (a second ``serve`` on the store) ran the slot, and nothing runs
    (``ran_elsewhere``).
    """
    store = runtime.store
    result = JobResult(tenant=tenant, trigger=trigger.name)
    with tenant_scope(tenant), store.lock(run_lock_name(tenant, trigger.name)):
        # Read under the lock (the run we waited for may have paused it); an unknown tenant raises here.
        record = store.require_tenant(tenant)
        if record.paused:
            result.skipped = True
            result.error = TenantPaused(
                f"the tenant is paused: {record.paused_reason}",
                tenant=tenant,
                hint=f"run `fortnox-connector connect {tenant}` to reconnect it (that resumes it)",
            )
            return result
        if slot is not None and _ran_since(runtime, tenant, trigger.name, slot):
            result.ran_elsewhere = True
            return result
        started_at = store.now()

        def starting() -> None:  # the run's first write: from now on it shows as running
            result.run_id = store.start_run(tenant, trigger.name, started_at=started_at)

        delivery = OutboxDelivery(store, sink, tenant, trigger.name, chunk=chunk, starting=starting)
        try:
            _run(
                runtime,
                delivery,
                trigger,
                result,
                record=record,
                progress=progress,
                deadline=deadline,
                clock=clock,
            )
        except ConnectorError as exc:
            result.error = exc.with_tenant(tenant)
        except BaseException as exc:
            _record(runtime, delivery, result, started_at, error=f"crashed: {type(exc).__name__}")
            raise
        finally:
            result.delivered = delivery.delivered
        if isinstance(result.error, ReconnectRequired):
            # The reason alone: its readers add the tenant and the fix (``str`` would double both).
            store.pause_tenant(tenant, f"must reconnect: {result.error.message}")
            result.paused = True
        _record(runtime, delivery, result, started_at, error=str(result.error) if result.error else None)
        log_summary(result)
    return result


def _ran_since(runtime: Runtime, tenant: str, trigger: str, slot: datetime) -> bool:
    """Did a run of ``trigger`` start at or after ``slot``? (Read under the run lock: none is in progress.)"""
    latest = runtime.store.list_runs(tenant, triggers=[trigger], limit=1)
    return bool(latest) and latest[0].started_at >= slot


def _record(
    runtime: Runtime, delivery: OutboxDelivery, result: JobResult, started_at: datetime, *, error: str | None
) -> None:
    """The run's end: its record and the cursor ``delivery`` held, in one write transaction."""
    result.delivered = delivery.delivered  # also when the run crashed: what the sink accepted counts
    held = delivery.unsaved
    result.run_id = runtime.store.record_run(
        result.tenant,
        result.trigger,
        started_at=started_at,
        run_id=result.run_id,
        summary=result.record(),
        error=error,
        cursor=held,
    )
    delivery.saved()
    result.cursor = delivery.committed
    if held is not None:
        runtime.catalog.checkpoint(result.tenant, result.trigger, held)


def log_summary(result: JobResult) -> None:
    """One line per run: what it did, for people (the message) and machines (the fields)."""
    s = result.summary
    tenant_logger(result.tenant, __name__).log(
        logging.INFO if result.ok else logging.WARNING,
        "%s run %s: %s, %d events (%d skipped), %d delivered (%d redelivered), %d pages, %d requests%s, "
        "%.2f s%s%s",
        result.trigger,
        result.run_id,
        result.status,
        s.events,
        s.skipped,
        result.delivered,
        result.redelivered,
        s.pages,
        s.requests,
        _traffic_note(s, result.token_refreshes),
        s.duration_s,
        f", {s.vanished} vanished (deleted between list and fetch)" if s.vanished else "",
        f": {result.error}" if result.error is not None else "",
        extra={
            "trigger": result.trigger,
            "run_id": result.run_id,
            "status": result.status,
            **result.record(),
        },
    )


def _traffic_note(s: RunSummary, refreshes: int) -> str:
    """`` (2 retries, 1 rate-limited, 1 token refresh)``: what operators look for, said only when not 0."""
    parts = [
        f"{n} {one if n == 1 else many}"
        for n, one, many in (
            (s.retries, "retry", "retries"),
            (s.rate_limited, "rate-limited", "rate-limited"),
            (refreshes, "token refresh", "token refreshes"),
        )
        if n
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _run(
    runtime: Runtime,
    delivery: OutboxDelivery,
    trigger: TriggerSpec[Any],
    result: JobResult,
    *,
    record: TenantRecord,
    progress: Progress | None,
    deadline: float | None,
    clock: Callable[[], float],
) -> None:
    def checkpointed(step: Callable[[], object]) -> None:
        """Run ``step``; tell observers of the cursor it committed, also when delivery then failed."""
        before = delivery.committed
        try:
            step()
        finally:
            after = delivery.committed
            if after is not None and after != before:
                runtime.catalog.checkpoint(result.tenant, trigger.name, after)

    def commit(cursor: str) -> None:
        checkpointed(lambda: delivery.commit(cursor))

    try:
        checkpointed(delivery.drain)  # what a crashed run left behind goes first
    finally:
        result.redelivered = delivery.delivered
    result.cursor = delivery.committed

    with refreshes.counting() as refreshed, runtime.session(record) as session:
        try:
            outcome = run_trigger(
                BoundTrigger(trigger, session.context, result.tenant),
                cursor=delivery.committed,
                deliver=delivery.deliver,
                commit=commit,
                deadline=deadline,
                progress=progress,
                clock=clock,
            )
        finally:  # a crashed run's record counts them too
            result.token_refreshes = refreshed.value
    result.summary = outcome.summary
    result.cursor = delivery.cursor
    result.complete = outcome.complete
    result.stopped_by_deadline = outcome.stopped_by_deadline
    result.error = outcome.error
