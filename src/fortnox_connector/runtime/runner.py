"""The one poll loop every host mode shares: poll → deliver → commit, in that order, until done.

A cursor is committed only after the events before it were delivered (Airbyte's rule). If delivery or a
poll fails, the loop stops with the last committed cursor in place, so the next run re-emits and never skips.
A deadline (Pandium's ten-minute limit) stops the loop between pages, with everything so far committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fortnox_connector.contract.connector import BoundTrigger
from fortnox_connector.contract.records import Event, RunSummary
from fortnox_connector.errors import ConnectorError

Deliver = Callable[[Sequence[Event]], None]
Commit = Callable[[str], None]
Progress = Callable[[RunSummary], None]


@dataclass(slots=True)
class RunOutcome:
    """How a run ended. ``cursor`` is the last committed one; ``error`` is set when it stopped on one."""

    trigger: str
    tenant: str
    cursor: str | None
    summary: RunSummary = field(default_factory=RunSummary)
    complete: bool = False  # True when the trigger said there was nothing more
    stopped_by_deadline: bool = False
    error: ConnectorError | None = None


def run_trigger(
    trigger: BoundTrigger[Any],
    *,
    cursor: str | None,
    deliver: Deliver,
    commit: Commit,
    deadline: float | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunOutcome:
    """Poll ``trigger`` (bound to its tenant: ``session.trigger(name)``) until it has no more, delivering
    and committing page by page.

    ``deadline`` is a ``clock()`` value after which no new poll starts. Errors the connector raises on
    purpose end the run and are returned (naming the tenant); anything else propagates.
    """
    outcome = RunOutcome(trigger=trigger.name, tenant=trigger.tenant, cursor=cursor)
    started = clock()
    counted_before = _client_counts(trigger)
    try:
        while True:
            if deadline is not None and clock() >= deadline:
                outcome.stopped_by_deadline = True
                break
            result = trigger.poll(outcome.cursor)
            outcome.summary.add(result.summary)  # counted when polled: a failed delivery keeps the figures
            if result.events:
                deliver(result.events)
            commit(result.cursor)
            outcome.cursor = result.cursor
            if progress is not None:
                progress(outcome.summary)
            if not result.more:
                outcome.complete = True
                break
    except ConnectorError as exc:
        outcome.error = exc.with_tenant(trigger.tenant)
    # A failed poll returns no summary, yet its requests count (retries of a 429 storm …): the client's own
    # counts since the run began, when they are more than the polls reported.
    counted = _client_counts(trigger)
    for name in _CLIENT_COUNTS:
        since = counted[name] - counted_before[name]
        if since > getattr(outcome.summary, name):
            setattr(outcome.summary, name, since)
    outcome.summary.duration_s = clock() - started
    return outcome


# A run summary's field and the counter a connector's client may keep of it (the Fortnox client does).
_CLIENT_COUNTS = {
    "requests": "requests_sent",
    "rate_limited": "throttled_responses",
    "retries": "retries_sent",
}


def _client_counts(trigger: BoundTrigger[Any]) -> dict[str, int]:
    """What the connector's client has counted (``context.client.requests_sent`` …), 0 for what it does not
    count."""
    client = getattr(trigger.context, "client", None)
    counts = {}
    for name, attribute in _CLIENT_COUNTS.items():
        value = getattr(client, attribute, 0)
        counts[name] = value if isinstance(value, int) else 0
    return counts
