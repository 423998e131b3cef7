"""One Temporal Schedule per tenant, from its cron expression and time zone (default ``0 23 * * *``,
Europe/Stockholm), and a night run now (``run_night``) for demos and operators.

A Schedule survives restarts of every worker and of the client that made it; Temporal itself starts the
tenant's ``TenantNight`` at each slot, in the tenant's time zone (daylight saving included). The overlap
policy is SKIP (a slot that comes while the last night still runs is dropped, the next slot catches up from
the cursor) and a missed slot (the cluster was down) is caught up within ``CATCHUP``. Paused tenants'
Schedules are paused, with the reason in the note; syncing again after ``connect`` resumes them.

A sync touches only what changed: each Schedule's note carries a fingerprint of what it was made from (cron,
zone, paused and why, triggers, task queue), one listing of the Schedules reads them all, and a Schedule
whose fingerprint matches is left alone. So workers can keep the Schedules in step with the store every
minute (``keep_schedules``: a tenant added, removed, paused, reconnected or given another cron needs no
command), one worker at a time under a store lock, at the cost of one list call when nothing changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import schedule_of
from fortnox_connector.runtime.store.base import TenantRecord
from fortnox_connector.temporal.shapes import (
    BUSY_WAIT_S,
    HEARTBEAT_S,
    LOCAL_SLICE_S,
    NIGHT_WORKFLOW,
    TASK_QUEUE,
    NightJob,
    NightResult,
    night_workflow_id,
    schedule_id,
)

log = logging.getLogger(__name__)

CATCHUP = timedelta(hours=6)
NOTE = "fortnox-connector"  # a Schedule's note: NOTE, its fingerprint, and why it is paused
SYNC_EVERY_S = 60.0  # how often workers bring the Schedules in step with the store (keep_schedules)
SYNC_LOCK = "temporal:schedules"
# A night's workflow task (and the local slices it runs) is given up on after this long without an answer:
# as long as a regular slice's heartbeat timeout, so a busy worker's night is not taken for a dead one (its
# local slice would run again elsewhere and find the run lock held). Temporal's default is 10 s.
NIGHT_TASK_TIMEOUT = timedelta(seconds=HEARTBEAT_S)
PREFIX = schedule_id("")


@dataclass
class ScheduleChange:
    tenant: str
    change: str  # created, updated, unchanged, removed, error
    cron: str | None = None
    timezone: str | None = None
    paused: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Wanted:
    """A tenant's Schedule as the store says it should be, and its fingerprint."""

    tenant: str
    schedule: Schedule
    cron: str
    zone: str
    paused: bool
    fingerprint: str


def tenant_schedule(
    runtime: Runtime, record: TenantRecord, triggers: Sequence[str], *, task_queue: str = TASK_QUEUE
) -> Wanted:
    """The tenant's Schedule (and its cron and zone): raises ``ConfigError`` for a bad cron or zone."""
    tenant = record.id
    cron, zone = schedule_of(runtime, record)
    made_of = repr((tenant, cron, zone.key, record.paused, record.paused_reason, list(triggers), task_queue))
    fingerprint = hashlib.sha256(made_of.encode()).hexdigest()[:16]
    note = f"{NOTE} {fingerprint}" + (f": {record.paused_reason}" if record.paused_reason else "")
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            NIGHT_WORKFLOW,
            NightJob(tenant, list(triggers)),
            id=night_workflow_id(tenant),
            task_queue=task_queue,
            task_timeout=NIGHT_TASK_TIMEOUT,
        ),
        spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=zone.key),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP),
        state=ScheduleState(paused=record.paused, note=note),
    )
    return Wanted(tenant, schedule, cron, zone.key, record.paused, fingerprint)


def wanted_schedules(
    runtime: Runtime, triggers: Sequence[str], task_queue: str
) -> tuple[list[Wanted], list[ScheduleChange]]:
    """Every tenant's wanted Schedule, and an ``error`` change for each tenant whose cron or zone is bad
    (that tenant's Schedule is left as it is: the others go on)."""
    wanted: list[Wanted] = []
    errors: list[ScheduleChange] = []
    for record in runtime.store.list_tenants():
        try:
            wanted.append(tenant_schedule(runtime, record, triggers, task_queue=task_queue))
        except ConnectorError as exc:
            errors.append(ScheduleChange(record.id, "error", error=str(exc.with_tenant(record.id))))
    return wanted, errors


async def sync_schedules(
    client: Client, runtime: Runtime, triggers: Sequence[str], *, task_queue: str = TASK_QUEUE
) -> list[ScheduleChange]:
    """Create the Schedules that are missing, update those whose fingerprint differs, leave the others, and
    remove Schedules of tenants that are gone. The store is read on a thread (the event loop keeps serving
    a worker's workflows meanwhile)."""
    wanted, changes = await asyncio.to_thread(wanted_schedules, runtime, triggers, task_queue)
    held: dict[str, str | None] = {}  # schedule id -> its note (None: not listed with one)
    async for listed in await client.list_schedules():
        if listed.id.startswith(PREFIX):
            held[listed.id] = listed.schedule.state.note if listed.schedule is not None else None
    for w in wanted:
        sid = schedule_id(w.tenant)
        change = ScheduleChange(w.tenant, "unchanged", w.cron, w.zone, w.paused)
        if sid not in held:
            change.change = await _create_or_update(client, w)
        elif _fingerprint(held[sid]) != w.fingerprint:
            await _update(client, sid, w.schedule)
            change.change = "updated"
        changes.append(change)
    errored = {c.tenant for c in changes if c.change == "error"}
    known = {schedule_id(w.tenant) for w in wanted} | {schedule_id(t) for t in errored}
    for sid in sorted(held.keys() - known):
        try:
            await client.get_schedule_handle(sid).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            continue  # gone already: still listed (listings lag behind writes)
        changes.append(ScheduleChange(sid.removeprefix(PREFIX), "removed"))
    return changes


def _fingerprint(note: str | None) -> str | None:
    if note is None or not note.startswith(NOTE + " "):
        return None
    return note[len(NOTE) + 1 :].split(":", 1)[0]


async def _create_or_update(client: Client, w: Wanted) -> str:
    """Create; a Schedule the listing did not show yet (listings lag behind writes) is read whole instead,
    and updated only if its fingerprint differs."""
    sid = schedule_id(w.tenant)
    try:
        await client.create_schedule(sid, w.schedule)
    except ScheduleAlreadyRunningError:
        described = await client.get_schedule_handle(sid).describe()
        if _fingerprint(described.schedule.state.note) == w.fingerprint:
            return "unchanged"
        await _update(client, sid, w.schedule)
        return "updated"
    return "created"


async def _update(client: Client, sid: str, schedule: Schedule) -> None:
    def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=new)

    await client.get_schedule_handle(sid).update(replace)


async def keep_schedules(
    client: Client,
    runtime: Runtime,
    triggers: Sequence[str],
    stop: asyncio.Event,
    *,
    task_queue: str = TASK_QUEUE,
    every_s: float = SYNC_EVERY_S,
    wait: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Sync the Schedules now and every ``every_s`` seconds until ``stop``; returns how many syncs ran.

    Several workers run this; the store's ``try_lock`` lets one sync at a time and the others skip that
    round. A failed sync (Temporal or the store unreachable) is logged and tried again next round: it must
    not stop the worker. ``wait`` (tests) replaces the pause between rounds.
    """

    async def pause() -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)

    synced = 0
    reported: dict[str, str] = {}  # tenant -> the error last logged for it (logged again only if it changes)
    while not stop.is_set():
        try:
            with _sync_lock(runtime) as mine:
                if mine:
                    changes = await sync_schedules(client, runtime, triggers, task_queue=task_queue)
                    synced += 1
                    _log_changes(changes, reported)
        except Exception:  # logged; the next round tries again
            log.exception("could not bring the Temporal Schedules in step with the store; trying again")
        await (wait or pause)()
    return synced


@contextmanager
def _sync_lock(runtime: Runtime) -> Iterator[bool]:
    """The store's ``try_lock`` (PostgreSQL's); a store without one is waited for (it is always ours)."""
    try_lock = getattr(runtime.store, "try_lock", None)
    if try_lock is not None:
        with try_lock(SYNC_LOCK) as mine:
            yield bool(mine)
        return
    with runtime.store.lock(SYNC_LOCK):
        yield True


def _log_changes(changes: Sequence[ScheduleChange], reported: dict[str, str]) -> None:
    """A line per Schedule written; a tenant's bad cron or zone once (not every minute) until it changes."""
    for c in changes:
        if c.change == "error":
            if reported.get(c.tenant) != c.error:
                reported[c.tenant] = c.error or ""
                log.warning(
                    "Schedule of tenant %s left as it was: %s", c.tenant, c.error, extra={"tenant": c.tenant}
                )
            continue
        reported.pop(c.tenant, None)
        if c.change != "unchanged":
            log.info("Schedule of tenant %s %s", c.tenant, c.change, extra={"tenant": c.tenant})


async def run_night(
    client: Client,
    tenants: Sequence[str],
    triggers: Sequence[str],
    *,
    task_queue: str = TASK_QUEUE,
    run_label: str = "now",
    heartbeat_s: float = HEARTBEAT_S,
    local_slice_s: float = LOCAL_SLICE_S,
    busy_wait_s: float = BUSY_WAIT_S,
    progress: Callable[[int, int], None] | None = None,
    starting: int = 50,
) -> list[NightResult]:
    """Start every tenant's night now (as its Schedule would) and wait for all of them.

    Starts go out ``starting`` at a time (one after the other cost a round trip each: 10 s for 1,000
    tenants); ``progress(done, total)`` is told as nights end.
    """
    gate = asyncio.Semaphore(starting)
    done = 0

    async def one(tenant: str) -> NightResult:
        nonlocal done
        async with gate:
            handle = await client.start_workflow(
                NIGHT_WORKFLOW,
                NightJob(
                    tenant,
                    list(triggers),
                    heartbeat_s=heartbeat_s,
                    local_slice_s=local_slice_s,
                    busy_wait_s=busy_wait_s,
                ),
                id=f"{night_workflow_id(tenant)}/{run_label}",
                task_queue=task_queue,
                task_timeout=timedelta(seconds=heartbeat_s),
                result_type=NightResult,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        result: NightResult = await handle.result()
        done += 1
        if progress is not None:
            progress(done, len(tenants))
        return result

    return list(await asyncio.gather(*(one(t) for t in tenants)))
