"""The workflows: deterministic orchestration only; all I/O happens in the activities (``activities.py``).

- ``TenantNight`` — what a tenant's Schedule starts at each slot: its triggers one after the other (as
  ``serve`` does), each as a child ``TriggerRun`` with the fixed id ``fortnox-trigger/<tenant>/<trigger>``.
  Temporal runs one workflow per id at a time, so a slot that comes while the last run of a trigger still
  goes records "already running" instead of overlapping it. A trigger that failed for good (the tenant must
  reconnect, a validation error) stops the night: the tenant is paused.
- ``TriggerRun`` — slices of ``run_trigger_slice`` until the trigger says it is complete; a long backfill
  continues as new when Temporal suggests it, so its history stays small.
- ``StreamWorkflow`` — the app's WebSocket feed listener (``stream_feed``), one per client id by its fixed id
  ``fortnox-stream/<client id>``; the activity heartbeats its checkpoint, is retried from it for as long as
  it fails, and stops cleanly when the workflow is cancelled.
- ``ActionRun`` — one action; its id carries the idempotency key, so concurrent calls with one key share
  one execution on one worker and a repeat after it finished gets the first result.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from fortnox_connector.temporal.failures import ACTION_RETRY, SLICE_RETRY
    from fortnox_connector.temporal.shapes import (
        ACTION_ACTIVITY,
        ACTION_WORKFLOW,
        NIGHT_WORKFLOW,
        SLICE_ACTIVITY,
        STREAM_ACTIVITY,
        STREAM_WORKFLOW,
        TRIGGER_WORKFLOW,
        ActionJob,
        NightJob,
        NightResult,
        SliceResult,
        StreamJob,
        StreamResult,
        TriggerJob,
        TriggerTotals,
        trigger_workflow_id,
    )

SLICE_TIMEOUT = timedelta(minutes=10)  # a slice stops itself after its deadline (60 s) plus one page


@workflow.defn(name=TRIGGER_WORKFLOW)
class TriggerRun:
    @workflow.run
    async def run(self, job: TriggerJob) -> TriggerTotals:
        totals = job.carried or TriggerTotals(job.tenant, job.trigger)
        while True:
            part: SliceResult = await workflow.execute_activity(
                SLICE_ACTIVITY,
                job,
                result_type=SliceResult,
                start_to_close_timeout=SLICE_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=job.heartbeat_s),
                retry_policy=SLICE_RETRY,
            )
            totals.add(part)
            if part.complete or part.skipped:
                return totals
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(dataclasses.replace(job, carried=totals))


def _root(exc: BaseException) -> BaseException:
    """The innermost cause of a child's failure (the activity's ``ApplicationError``)."""
    while exc.__cause__ is not None or getattr(exc, "cause", None) is not None:
        exc = getattr(exc, "cause", None) or exc.__cause__  # type: ignore[assignment]
    return exc


@workflow.defn(name=NIGHT_WORKFLOW)
class TenantNight:
    @workflow.run
    async def run(self, job: NightJob) -> NightResult:
        result = NightResult(job.tenant)
        for trigger in job.triggers:
            try:
                totals: TriggerTotals = await workflow.execute_child_workflow(
                    TRIGGER_WORKFLOW,
                    TriggerJob(job.tenant, trigger, heartbeat_s=job.heartbeat_s),
                    id=trigger_workflow_id(job.tenant, trigger),
                    result_type=TriggerTotals,
                )
            except WorkflowAlreadyStartedError:
                result.already_running.append(trigger)
                continue
            except ChildWorkflowError as exc:
                cause = _root(exc)
                result.failed[trigger] = str(cause)
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    break  # the tenant is paused: its other triggers would fail the same way
                continue
            result.triggers.append(totals)
            if totals.skipped:
                break  # paused before the run: nothing else runs either
        return result


@workflow.defn(name=ACTION_WORKFLOW)
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


@workflow.defn(name=STREAM_WORKFLOW)
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


WORKFLOWS = [TenantNight, TriggerRun, ActionRun, StreamWorkflow]
