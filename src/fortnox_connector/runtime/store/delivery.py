"""Delivery through the outbox: events and their cursor are saved first, then sent, then the cursor moves.

``OutboxDelivery`` fits ``runner.run_trigger``'s ``deliver``/``commit`` callbacks. Start every run with
``drain()`` so events a crash left in the outbox go out (and their cursor is committed) before polling on.
"""

from __future__ import annotations

from collections.abc import Sequence

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import DeliveryError
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.store.base import RuntimeStore


class OutboxDelivery:
    """Deliver one tenant's trigger events to ``sink`` through ``store``'s outbox, ``chunk`` events a call."""

    def __init__(
        self, store: RuntimeStore, sink: Sink, tenant: str, trigger: str, *, chunk: int = 500
    ) -> None:
        self.store = store
        self.sink = sink
        self.tenant = tenant
        self.trigger = trigger
        self.chunk = chunk
        self.delivered = 0  # events the sink accepted through this object
        self._held: list[Event] = []
        self._drained = False  # True while this object's last drain() emptied the outbox

    def deliver(self, events: Sequence[Event]) -> None:
        """Hold a page's events until ``commit`` gives the cursor they lead to."""
        self._held.extend(events)

    def commit(self, cursor: str) -> None:
        """Save the held events with ``cursor`` (one transaction), then deliver and commit (``drain``)."""
        events, self._held = self._held, []
        if not events and self._drained:
            # nothing to send and nothing pending: the cursor alone, one transaction (an idle night's
            # page wrote an empty batch, then committed it: two)
            self.store.commit_cursor(self.tenant, self.trigger, cursor)
            return
        self.store.enqueue(self.tenant, self.trigger, events, cursor)
        self.drain()

    def drain(self) -> str | None:
        """Send everything pending, oldest first; commit the cursor as far as delivery got.

        Returns the committed cursor. A ``DeliveryError`` propagates after committing what was delivered.
        """
        self._drained = False
        while True:
            entries = self.store.pending(self.tenant, self.trigger, limit=self.chunk)
            if not entries:
                break
            try:
                self.sink.deliver([e.event for e in entries])
            except DeliveryError as exc:
                self.store.commit_after_delivery(self.tenant, self.trigger)
                exc.with_tenant(self.tenant)
                raise
            self.store.mark_delivered([e.id for e in entries])
            self.delivered += len(entries)
            self.store.commit_after_delivery(self.tenant, self.trigger)
        self.store.commit_after_delivery(self.tenant, self.trigger)  # batches without events
        self._drained = True
        return self.store.load_cursor(self.tenant, self.trigger)
