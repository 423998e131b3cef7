"""What crosses Temporal: inputs and results of workflows and activities, and the ids that make runs unique.

Plain dataclasses of JSON types (Temporal's default data converter), never secrets: an access token stays in
the worker that uses it. Ids are built here only, so a worker, the schedule command and a client agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TASK_QUEUE = "fortnox-connector"
NIGHT_WORKFLOW = "FortnoxTenantNight"
ACTION_WORKFLOW = "FortnoxActionRun"
SLICE_ACTIVITY = "fortnox.run_trigger_slice"
ACTION_ACTIVITY = "fortnox.run_action"
STREAM_WORKFLOW = "FortnoxStream"
STREAM_ACTIVITY = "fortnox.stream_feed"


def schedule_id(tenant: str) -> str:
    return f"fortnox-tenant/{tenant}"


def night_workflow_id(tenant: str) -> str:
    """The id a tenant's Schedule gives its night runs (Temporal appends the slot's time)."""
    return f"fortnox-night/{tenant}"


def action_workflow_id(tenant: str, action: str, idempotency_key: str) -> str:
    """The action's idempotency key is its workflow id: concurrent callers share one execution."""
    return f"fortnox-action/{tenant}/{action}/{idempotency_key}"


def stream_workflow_id(client_id: str) -> str:
    """One feed listener per app (client id): Temporal runs at most one workflow per id."""
    return f"fortnox-stream/{client_id}"


HEARTBEAT_S = 30.0  # a dead worker's slice is retried on another worker after this many silent seconds
LOCAL_SLICE_S = 5.0  # a trigger's first slice runs as a local activity for at most this long (whole pages)
BUSY_WAIT_S = 300.0  # a trigger found running is tried again for this long before the night gives it up


@dataclass
class NightJob:
    tenant: str
    triggers: list[str]
    heartbeat_s: float = HEARTBEAT_S
    local_slice_s: float = LOCAL_SLICE_S
    busy_wait_s: float = BUSY_WAIT_S
    # What earlier generations did (continue-as-new): the night so far and the trigger in progress.
    carried: NightResult | None = None
    carried_trigger: TriggerTotals | None = None


@dataclass
class TriggerJob:
    """One slice of one trigger run; ``slice_s`` (local slices) bounds it below the worker's own setting."""

    tenant: str
    trigger: str
    slice_s: float | None = None


@dataclass
class SliceResult:
    """One activity's share of a trigger run (``jobs.JobResult`` without the error, which is raised)."""

    complete: bool = False
    skipped: bool = False  # the tenant was paused before: nothing ran
    already_running: bool = False  # another run of this (tenant, trigger) holds its run lock: nothing ran
    reason: str | None = None
    pages: int = 0
    events: int = 0
    delivered: int = 0
    redelivered: int = 0
    requests: int = 0
    rate_limited: int = 0


@dataclass
class TriggerTotals:
    """A whole trigger run: its slices summed (``continued`` counts continue-as-new generations)."""

    tenant: str
    trigger: str
    slices: int = 0
    complete: bool = False
    skipped: bool = False
    reason: str | None = None
    pages: int = 0
    events: int = 0
    delivered: int = 0
    redelivered: int = 0
    requests: int = 0
    rate_limited: int = 0

    def add(self, s: SliceResult) -> None:
        self.slices += 1
        self.complete, self.skipped, self.reason = s.complete, s.skipped, s.reason
        self.pages += s.pages
        self.events += s.events
        self.delivered += s.delivered
        self.redelivered += s.redelivered
        self.requests += s.requests
        self.rate_limited += s.rate_limited


@dataclass
class NightResult:
    tenant: str
    triggers: list[TriggerTotals] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)  # a run of that trigger was still going
    failed: dict[str, str] = field(default_factory=dict)  # trigger -> why (the tenant may be paused)


@dataclass
class ActionJob:
    tenant: str
    action: str
    input: dict[str, Any]
    idempotency_key: str


@dataclass
class StreamJob:
    """The app's feed listener: ``client_id`` must be the worker's own app (a guard against a wrong queue)."""

    client_id: str
    stream: str = "invoices"
    heartbeat_s: float = HEARTBEAT_S


@dataclass
class StreamResult:
    """What a listener did before it stopped by itself (a cancelled one ends as cancelled instead)."""

    batches: int = 0
    delivered: int = 0
    checkpoint: str | None = None
