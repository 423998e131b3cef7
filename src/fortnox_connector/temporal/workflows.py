"""The workflows: deterministic orchestration only; all I/O happens in the activities (``activities.py``).

- ``TenantNight`` — what a tenant's Schedule starts at each slot: its triggers one after the other (as
  ``serve`` does), each as slices of ``run_trigger_slice`` until the trigger says it is complete. A
  trigger's **first slice is a local activity** of at most ``local_slice_s`` seconds: run by the worker that
  runs the night, recorded in the night's history as a marker, with no task through Temporal's matching
  service — an idle or small night (one page) costs one workflow task. A trigger not complete after it goes
  on with **regular activities** of ``--slice-seconds`` that heartbeat after every page (a long backfill), and
  the night continues as new when Temporal suggests it, so its history stays small. One run per (tenant,
  trigger) at a time is the run lock's (an advisory lock in PostgreSQL, the same one ``run`` and ``serve``
  take): a slice that finds it held sends nothing and is tried again after a durable timer (5 s, then as
  long as all the waits before it, at most a minute) for up to ``busy_wait_s`` (5 min): the holder may be
  this night's own earlier attempt, still running on a worker too starved to keep its workflow task alive,
  and it will commit its pages and let go. Only then does the night record the trigger "already running".
  A trigger that failed for good (the tenant must reconnect, a validation error) stops the night: the
  tenant is paused.
- ``StreamWorkflow`` — the app's WebSocket feed listener (``stream_feed``), one per client id by its fixed id
  ``fortnox-stream/<client id>``; the activity heartbeats its checkpoint, is retried from it for as long as
  it fails, and stops cleanly when the workflow is cancelled.
- ``ActionRun`` — one action; its id carries the idempotency key, so concurrent calls with one key share
  one execution on one worker and a repeat after it finished gets the first result.

They run outside the SDK's sandbox (``sandboxed=False``): they import nothing but these shapes and call no
I/O, and the sandbox re-imported this module for every workflow run (a third of a worker's CPU on an idle
night).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from fortnox_connector.temporal.failures import ACTION_RETRY, SLICE_RETRY
    from fortnox_connector.temporal.shapes import (
        ACTION_ACTIVITY,
        ACTION_WORKFLOW,
        NIGHT_WORKFLOW,
        SLICE_ACTIVITY,
        STREAM_ACTIVITY,
        STREAM_WORKFLOW,
        ActionJob,
        NightJob,
        NightResult,
        SliceResult,
        StreamJob,
        StreamResult,
        TriggerJob,
        TriggerTotals,
    )

SLICE_TIMEOUT = timedelta(minutes=10)  # a slice stops itself after its deadline (60 s) plus one page
LOCAL_SLICE_TIMEOUT = timedelta(minutes=2)  # a local slice stops itself after local_slice_s plus one page
BUSY_RETRY_S = 5.0  # the first wait before trying a trigger found running again (then as long as all before)
BUSY_RETRY_MAX_S = 60.0


def _root(exc: BaseException) -> BaseException:
    """The innermost cause of an activity's failure (the activity's ``ApplicationError``)."""
    while exc.__cause__ is not None or getattr(exc, "cause", None) is not None:
        exc = getattr(exc, "cause", None) or exc.__cause__  # type: ignore[assignment]
    return exc


class _Stop(Exception):
    """The night stops here (the tenant is paused)."""


@workflow.defn(name=NIGHT_WORKFLOW, sandboxed=False)
class TenantNight:
    @workflow.run
    async def run(self, job: NightJob) -> NightResult:
        result = job.carried or NightResult(job.tenant)
        first = len(result.triggers) + len(result.already_running) + len(result.failed)
        for trigger in job.triggers[first:]:
            carried, job.carried_trigger = job.carried_trigger, None
            totals = carried or TriggerTotals(job.tenant, trigger)
            try:
                await self._trigger(job, result, totals)
            except _Stop:
                break
        return result

    async def _trigger(self, job: NightJob, result: NightResult, totals: TriggerTotals) -> None:
        """Slices of one trigger until it is complete; the outcome goes into ``result``."""
        local = totals.slices == 0
        waited = 0.0
        while True:
            try:
                part = await self._slice(job, totals.trigger, local=local)
            except (ActivityError, ApplicationError, TimeoutError) as exc:  # a local one's failure comes bare
                cause = _root(exc)
                result.failed[totals.trigger] = str(cause)
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    raise _Stop from None  # the tenant is paused: its other triggers would fail the same way
                return
            local = False
            if part.already_running:
                if waited < job.busy_wait_s:
                    # each pause as long as all before it: 5, 5, 10, 20, 40, 60, 60 … seconds
                    pause = min(max(BUSY_RETRY_S, waited), BUSY_RETRY_MAX_S, job.busy_wait_s - waited)
                    await workflow.sleep(pause)  # a durable timer: the holder commits and lets go meanwhile
                    waited += pause
                    continue
                result.already_running.append(totals.trigger)
                return
            totals.add(part)
            if part.complete or part.skipped:
                result.triggers.append(totals)
                if part.skipped:
                    raise _Stop  # paused before the run: nothing else runs either
                return
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(dataclasses.replace(job, carried=result, carried_trigger=totals))

    async def _slice(self, job: NightJob, trigger: str, *, local: bool) -> SliceResult:
        part: SliceResult
        if local:
            part = await workflow.execute_local_activity(
                SLICE_ACTIVITY,
                TriggerJob(job.tenant, trigger, slice_s=job.local_slice_s),
                result_type=SliceResult,
                start_to_close_timeout=LOCAL_SLICE_TIMEOUT,
                retry_policy=SLICE_RETRY,
            )
            return part
        part = await workflow.execute_activity(
            SLICE_ACTIVITY,
            TriggerJob(job.tenant, trigger),
            result_type=SliceResult,
            start_to_close_timeout=SLICE_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=job.heartbeat_s),
            retry_policy=SLICE_RETRY,
        )
        return part


@workflow.defn(name=ACTION_WORKFLOW, sandboxed=False)
class ActionRun:
    @workflow.run
    async def run(self, job: ActionJob) -> dict[str, Any]:
        output: dict[str, Any] = await workflow.execute_activity(
            ACTION_ACTIVITY,
            job,
            result_type=dict,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=ACTION_RETRY,
        )
        return output


STREAM_RETRY = RetryPolicy(  # a listener is retried for as long as it fails (no maximum attempts)
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)
STREAM_LIFETIME = timedelta(days=3650)  # it runs until cancelled; the heartbeat timeout notices a dead one


@workflow.defn(name=STREAM_WORKFLOW, sandboxed=False)
class StreamWorkflow:
    @workflow.run
    async def run(self, job: StreamJob) -> StreamResult:
        result: StreamResult = await workflow.execute_activity(
            STREAM_ACTIVITY,
            job,
            result_type=StreamResult,
            start_to_close_timeout=STREAM_LIFETIME,
            heartbeat_timeout=timedelta(seconds=job.heartbeat_s),
            retry_policy=STREAM_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return result


WORKFLOWS = [TenantNight, ActionRun, StreamWorkflow]
