"""Delivery through the outbox: events and their cursor are saved first, then sent, then the cursor moves.

``OutboxDelivery`` fits ``runner.run_trigger``'s ``deliver``/``commit`` callbacks. Start every run with
``drain()`` so events a crash left in the outbox go out (and their cursor is committed) before polling on.

An idle run (one page, no events, nothing pending) must not cost write transactions (issue #17): the cursor
of a page without events, reached once everything before it was delivered, is **held** (``unsaved``), not
written; the caller saves it with the run's record, in one transaction (``RuntimeStore.record_run``).
Holding it is safe: until it is saved the committed cursor is an older one, and an older cursor only makes
the next run fetch again (never skip). A second page without events writes its cursor at once, so a long
run never holds more than one page of progress; a page with events supersedes the held cursor (its batch
carries a later one, committed after delivery).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import DeliveryError
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.store.base import RuntimeStore


class OutboxDelivery:
    """Deliver one tenant's trigger events to ``sink`` through ``store``'s outbox, ``chunk`` events a call.

    ``starting`` (optional) is called once, before the first event is saved or sent: the runtime records
    the run's start then, so a run doing work shows as running (and one killed stays visible) while an idle
    run writes nothing but its end. ``committed`` is the cursor committed in the store as far as this object
    knows (it moves the cursor only through the store, under the run lock); ``unsaved`` the held one.
    """

    def __init__(
        self,
        store: RuntimeStore,
        sink: Sink,
        tenant: str,
        trigger: str,
        *,
        chunk: int = 500,
        starting: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self.tenant = tenant
        self.trigger = trigger
        self.chunk = chunk
        self.delivered = 0  # events the sink accepted through this object
        self.committed: str | None = store.load_cursor(tenant, trigger)
        self.unsaved: str | None = None  # a held cursor: save it with the run's record (``saved``)
        self._starting = starting
        self._held: list[Event] = []
        self._drained = False  # True while this object's last drain() emptied the outbox

    @property
    def cursor(self) -> str | None:
        """Where the next poll starts: the held cursor, else the committed one."""
        return self.unsaved if self.unsaved is not None else self.committed

    def deliver(self, events: Sequence[Event]) -> None:
        """Hold a page's events until ``commit`` gives the cursor they lead to."""
        self._held.extend(events)

    def commit(self, cursor: str) -> None:
        """Save the held events with ``cursor`` (one transaction), then deliver and commit (``drain``).

        A page without events with nothing pending holds its cursor (the first such page) or writes it
        alone (any later one, dropping the held one it supersedes): never an empty batch.
        """
        events, self._held = self._held, []
        if not events and self._drained:
            if self.unsaved is None:
                self.unsaved = cursor
                return
            self.unsaved = None
            self.store.commit_cursor(self.tenant, self.trigger, cursor)
            self.committed = cursor
            return
        self.unsaved = None  # the batch's cursor is later: it is committed once its events are delivered
        self._start()
        self.store.enqueue(self.tenant, self.trigger, events, cursor)
        self.drain()

    def saved(self) -> None:
        """The held cursor was written (with the run's record): it is the committed one now."""
        if self.unsaved is not None:
            self.committed, self.unsaved = self.unsaved, None

    def drain(self) -> str | None:
        """Send everything pending, oldest first; commit the cursor as far as delivery got.

        Returns the committed cursor. A ``DeliveryError`` propagates after committing what was delivered.
        """
        self._drained = False
        while True:
            entries = self.store.pending(self.tenant, self.trigger, limit=self.chunk)
            if not entries:
                break
            self._start()
            try:
                self.sink.deliver([e.event for e in entries])
            except DeliveryError as exc:
                self._committed(self.store.commit_after_delivery(self.tenant, self.trigger))
                exc.with_tenant(self.tenant)
                raise
            self.store.mark_delivered([e.id for e in entries])
            self.delivered += len(entries)
            self._committed(self.store.commit_after_delivery(self.tenant, self.trigger))
        self._committed(self.store.commit_after_delivery(self.tenant, self.trigger))  # batches without events
        self._drained = True
        return self.committed

    def _committed(self, cursor: str | None) -> None:
        if cursor is not None:
            self.committed = cursor

    def _start(self) -> None:
        if self._starting is not None:
            starting, self._starting = self._starting, None
            starting()
