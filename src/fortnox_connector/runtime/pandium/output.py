"""The one JSON document a Pandium run prints on stdout, and how it is written.

Pandium keeps the last successful run's stdout (and shallow-merges it into the tenant metadata), so the
document is built for a shallow merge: one top-level key per trigger, each replaced whole by every run::

    {
      "payment_received": {"cursor": "...", "events": [...], "summary": {...}},
      "invoice_paid":     {"cursor": "...", "events": [...], "summary": {...}},
      "options": {...},            # what init mode discovered (kept by later runs)
      "run": {...}                 # this run: mode, tenant, status, times
    }

Printing is the delivery: a trigger's ``events`` are the ones this run delivered and its ``cursor`` is the
one committed right after the last of them (Airbyte's rule), so whichever copy Pandium keeps, the cursor
never runs ahead of the events beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from fortnox_connector.contract.records import Event, EventSink, RunSummary
from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.sinks.encoding import dumps, event_to_dict, event_to_json


@dataclass(slots=True)
class TriggerReport:
    """One trigger's part of a run: what it started from, delivered and committed.

    With a ``sink`` the events go there (the run fails if it cannot deliver them, before their cursor is
    committed) and only their count is printed; without one they are printed (``events``).
    """

    trigger: str
    cursor: str | None  # the committed cursor (the previous run's until this run commits one)
    sink: EventSink | None = None
    events: list[Event] = field(default_factory=list)
    delivered: int = 0
    printed_bytes: int = 0
    committed: bool = False  # this run committed at least one cursor
    summary: RunSummary = field(default_factory=RunSummary)
    complete: bool = False
    stopped_by_deadline: bool = False
    stopped_by_budget: bool = False
    skipped: str | None = None  # why the trigger was not polled this run
    error: ConnectorError | None = None

    def deliver(self, events: Sequence[Event]) -> None:
        if self.sink is not None:
            self.sink.deliver(events)
        else:
            self.events.extend(events)
            self.printed_bytes += sum(len(event_to_json(e).encode()) + 1 for e in events)
        self.delivered += len(events)

    def commit(self, cursor: str) -> None:
        self.cursor = cursor
        self.committed = True

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"cursor": self.cursor}
        if self.sink is None:
            doc["events"] = [event_to_dict(e) for e in self.events]
        doc["summary"] = {
            "events": self.delivered,
            "delivered_to": "stdout" if self.sink is None else "webhook",
            "pages": self.summary.pages,
            "requests": self.summary.requests,
            "skipped_records": self.summary.skipped,
            "duration_s": round(self.summary.duration_s, 3),
            "complete": self.complete,
            "stopped_by_deadline": self.stopped_by_deadline,
            "stopped_by_event_budget": self.stopped_by_budget,
            "skipped": self.skipped,
            "error": _error_json(self.error),
        }
        return doc


def _error_json(error: ConnectorError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"type": type(error).__name__, "message": str(error), "hint": error.hint}


def build_document(
    reports: Sequence[TriggerReport], *, kept: Mapping[str, Any], run: Mapping[str, Any]
) -> dict[str, Any]:
    """``kept`` (earlier keys this run does not write), then one key per trigger, then ``run``."""
    document: dict[str, Any] = dict(kept)
    for report in reports:
        document[report.trigger] = report.to_json()
    document["run"] = dict(run)
    return document


def write_document(stdout: TextIO, document: Mapping[str, Any]) -> None:
    """Serialise first, then write in one call: a failure to encode never leaves half a document."""
    text = dumps(document)
    stdout.write(text + "\n")
    stdout.flush()
