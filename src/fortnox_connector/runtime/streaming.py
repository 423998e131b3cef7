"""``fortnox-connector stream``: run a connector's stream source for every tenant of the app (one listener).

The host's side of ``contract.stream`` (its module docstring has the loop):

- every tenant that is not paused and whose tokens the runtime refreshes is added with its context and
  token provider (host-managed tenants are refreshed by their host: they are left to it);
- a ``StreamBatch`` is delivered to the sink, then its checkpoint is committed (cursor store, under
  ``stream:<client id>`` / ``<connector>.<stream>``): a crash in between re-sends that batch with the
  same dedup keys, never skips it. A failing sink is retried with backoff for as long as it fails, and the
  source waits meanwhile: back-pressure, not loss;
- a ``TenantTrouble`` pauses that tenant with the reconnect message (the scheduler and the stream skip it
  until ``connect`` succeeds); the others stream on;
- a ``CatchUp`` runs the tenants' poll triggers at once (``jobs.run_tenant_trigger``, the same outbox and
  cursors as ``run``), so what the stream lost is polled, not skipped;
- ``StreamStatus`` items and a periodic summary become status lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fortnox_connector.contract.records import Event
from fortnox_connector.contract.stream import (
    CatchUp,
    StreamBatch,
    StreamItem,
    StreamOptions,
    StreamSource,
    StreamSpec,
    StreamStatus,
    TenantTrouble,
)
from fortnox_connector.errors import DeliveryError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import run_tenant_trigger
from fortnox_connector.runtime.sinks.base import Sink

log = logging.getLogger(__name__)
DEFAULT_STREAM = "invoices"
Status = Callable[[str], None]


def checkpoint_key(spec: StreamSpec, app: str) -> tuple[str, str]:
    """Where the stream's checkpoint lives in the cursor store: one per app and stream."""
    return f"stream:{app}", f"{spec.connector}.{spec.name}"


def stream_spec(runtime: Runtime, name: str = DEFAULT_STREAM) -> StreamSpec:
    """The stream ``name`` of the connector the runtime runs."""
    return runtime.catalog.connector.stream(name)


@dataclass
class StreamReport:
    """What a stream run did (status lines and tests read it)."""

    batches: int = 0
    delivered: int = 0
    delivery_retries: int = 0
    catch_ups: int = 0
    paused: list[str] = field(default_factory=list)
    statuses: list[StreamStatus] = field(default_factory=list)
    delivered_keys: list[str] = field(default_factory=list)  # only with keep_keys (tests, bench)


class StreamHost:
    """Runs one ``StreamSpec`` for the runtime's tenants until ``stop()``."""

    def __init__(
        self,
        runtime: Runtime,
        spec: StreamSpec,
        sink: Sink,
        *,
        status: Status | None = None,
        settings: dict[str, object] | None = None,
        status_every_s: float = 30.0,
        delivery_backoff: tuple[float, float] = (0.5, 30.0),
        keep_keys: bool = False,
        on_delivered: Callable[[Sequence[Event]], None] | None = None,
        on_commit: Callable[[str], None] | None = None,
        checkpoint: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.spec = spec
        self.sink = sink
        self.status = status or (lambda line: log.info("%s", line))
        self.settings = settings or {}
        self.status_every_s = status_every_s
        self.delivery_backoff = delivery_backoff
        self.keep_keys = keep_keys
        self.on_delivered = on_delivered
        self.on_commit = on_commit  # e.g. a Temporal activity's heartbeat, carrying the checkpoint
        self.checkpoint = checkpoint  # start here instead of the stored one (a heartbeat's details)
        self.report = StreamReport()
        self.source: StreamSource | None = None
        self._stopping = False
        self._rng = random.Random()  # noqa: S311 - jitter

    async def run(self) -> StreamReport:
        runtime = self.runtime
        app, secret = runtime.settings.require_client()
        options = StreamOptions(app, secret, url=runtime.settings.feed_url, settings=self.settings)
        source = self.spec.open(options)
        self.source = source
        key = checkpoint_key(self.spec, app)
        with contextlib.ExitStack() as stack:
            self._add_tenants(source, stack)
            last_line = time.monotonic()
            try:
                async with contextlib.aclosing(
                    source.items(self.checkpoint or runtime.store.load_cursor(*key))
                ) as items:
                    async for item in items:  # after stop() the source drains what it read, then ends
                        await self._handle(item, key)
                        if time.monotonic() - last_line >= self.status_every_s:
                            last_line = time.monotonic()
                            self._summary()
            finally:
                await source.aclose()
        self._summary()
        return self.report

    def stop(self) -> None:
        """Stop: the source stops reading, hands over what it already read, then ends (each delivered and
        committed first)."""
        self._stopping = True
        source = self.source
        if source is not None:
            task = asyncio.ensure_future(source.aclose())
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)

    def _add_tenants(self, source: StreamSource, stack: contextlib.ExitStack) -> None:
        added = 0
        for record in self.runtime.store.list_tenants():
            if record.paused:
                self.status(f"tenant {record.id}: paused ({record.paused_reason}); not streamed")
                continue
            if record.auth_mode == "host_managed":
                self.status(f"tenant {record.id}: tokens are managed by its host; not streamed")
                continue
            tokens = self.runtime.token_provider(record)
            ctx = stack.enter_context(self.runtime.context(record.id, tokens=tokens))  # one provider
            source.add_tenant(ctx, tokens)
            added += 1
        self.status(f"stream {self.spec.connector}.{self.spec.name}: {added} tenant(s) on one connection")

    async def _handle(self, item: StreamItem, key: tuple[str, str]) -> None:
        if isinstance(item, StreamBatch):
            if item.events:
                await asyncio.to_thread(self._deliver, item.events)
            await asyncio.to_thread(self.runtime.store.commit_cursor, key[0], key[1], item.checkpoint)
            if self.on_commit is not None:
                self.on_commit(item.checkpoint)
            self.report.batches += 1
        elif isinstance(item, TenantTrouble):
            reason = getattr(item.error, "message", str(item.error))  # ``str`` has the tenant and a fix
            await asyncio.to_thread(self.runtime.store.pause_tenant, item.tenant, reason)
            self.report.paused.append(item.tenant)
            self.status(
                f"tenant {item.tenant}: paused, {reason}. Fix: run `fortnox-connector connect "
                f"{item.tenant}`; the other tenants stream on"
            )
            if self.source is not None:
                self.source.remove_tenant(item.tenant)
        elif isinstance(item, CatchUp):
            self.report.catch_ups += 1
            self.status(f"catch-up: {item.reason}; polling {len(item.tenants)} tenant(s) now")
            await asyncio.to_thread(self._catch_up, item.tenants)
        else:
            self.report.statuses.append(item)
            detail = f": {item.detail}" if item.detail else ""
            self.status(f"stream {item.state}, {item.tenants} tenant(s){detail}")

    def _deliver(self, events: Sequence[Event]) -> None:
        """Deliver or keep trying (with backoff) until the sink takes them or the host stops."""
        attempt = 0
        while True:
            try:
                self.sink.deliver(events)
            except DeliveryError as exc:
                if self._stopping:
                    raise
                attempt += 1
                self.report.delivery_retries += 1
                base, cap = self.delivery_backoff
                delay = self._rng.uniform(0, min(cap, base * 2 ** min(attempt, 16)))
                self.status(f"sink refused {len(events)} event(s) ({exc}); retrying in {delay:.2f} s")
                time.sleep(delay)
                continue
            break
        self.report.delivered += len(events)
        if self.keep_keys:
            self.report.delivered_keys.extend(e.dedup_key for e in events)
        if self.on_delivered is not None:
            self.on_delivered(events)

    def _catch_up(self, tenants: Sequence[str]) -> None:
        catalog = self.runtime.catalog
        names = [n for n in catalog.trigger_names() if n in self.spec.triggers]
        for tenant in tenants:
            record = self.runtime.store.get_tenant(tenant)
            if record is None or record.paused:
                continue
            for name in names:
                result = run_tenant_trigger(self.runtime, tenant, catalog.trigger(name), self.sink)
                self.report.delivered += result.delivered
                self.status(f"catch-up {name} for {tenant}: {result.status}, {result.delivered} delivered")

    def _summary(self) -> None:
        r = self.report
        self.status(
            f"stream: {r.delivered} event(s) delivered in {r.batches} batch(es), {r.catch_ups} catch-up(s), "
            f"{len(r.paused)} tenant(s) paused"
        )


_BACKGROUND: set[asyncio.Future[None]] = set()
