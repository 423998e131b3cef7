"""One Temporal Schedule per tenant, from its cron expression and time zone (default ``0 23 * * *``,
Europe/Stockholm), and a night run now (``run_night``) for demos and operators.

A Schedule survives restarts of every worker and of the client that made it; Temporal itself starts the
tenant's ``TenantNight`` at each slot, in the tenant's time zone (daylight saving included). The overlap
policy is SKIP (a slot that comes while the last night still runs is dropped, the next slot catches up from
the cursor) and a missed slot (the cluster was down) is caught up within ``CATCHUP``. Paused tenants'
Schedules are paused, with the reason as the note; syncing again after ``connect`` resumes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
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

from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import schedule_of
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

CATCHUP = timedelta(hours=6)
# A night's workflow task (and the local slices it runs) is given up on after this long without an answer:
# as long as a regular slice's heartbeat timeout, so a busy worker's night is not taken for a dead one (its
# local slice would run again elsewhere and find the run lock held). Temporal's default is 10 s.
NIGHT_TASK_TIMEOUT = timedelta(seconds=HEARTBEAT_S)
PREFIX = schedule_id("")


@dataclass
class ScheduleChange:
    tenant: str
    change: str  # created, updated, removed, error
    cron: str | None = None
    timezone: str | None = None
    paused: bool = False
    error: str | None = None


def tenant_schedule(
    runtime: Runtime, tenant: str, triggers: Sequence[str], *, task_queue: str = TASK_QUEUE
) -> tuple[Schedule, str, str]:
    """The tenant's Schedule (and its cron and zone): raises ``ConfigError`` for a bad cron or zone."""
    record = runtime.store.require_tenant(tenant)
    cron, zone = schedule_of(runtime, record)
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
        state=ScheduleState(paused=record.paused, note=record.paused_reason or "fortnox-connector"),
    )
    return schedule, cron, zone.key


async def sync_schedules(
    client: Client, runtime: Runtime, triggers: Sequence[str], *, task_queue: str = TASK_QUEUE
) -> list[ScheduleChange]:
    """Create or update every tenant's Schedule; remove Schedules of tenants that are gone."""
    changes: list[ScheduleChange] = []
    tenants = runtime.store.list_tenants()
    for record in tenants:
        try:
            schedule, cron, zone = tenant_schedule(runtime, record.id, triggers, task_queue=task_queue)
        except ConnectorError as exc:
            changes.append(ScheduleChange(record.id, "error", error=str(exc.with_tenant(record.id))))
            continue
        change = ScheduleChange(record.id, "created", cron, zone, record.paused)
        try:
            await client.create_schedule(schedule_id(record.id), schedule)
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id(record.id)).update(replace)
            change.change = "updated"
        changes.append(change)
    known = {schedule_id(r.id) for r in tenants}
    async for listed in await client.list_schedules():
        if listed.id.startswith(PREFIX) and listed.id not in known:
            await client.get_schedule_handle(listed.id).delete()
            changes.append(ScheduleChange(listed.id.removeprefix(PREFIX), "removed"))
    return changes


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
