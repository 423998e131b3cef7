"""The scheduler on an injected clock: cron per tenant in its time zone, catch-up, pauses, broken configs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler, TenantRun
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import (
    PAGES,
    FakeClock,
    ListSink,
    add_connected,
    add_disconnected,
    make_runtime,
)

STHLM = ZoneInfo("Europe/Stockholm")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=STHLM)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path, store_now=clock) as rt:
        add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
        yield rt


def _scheduler(runtime: Runtime, clock: FakeClock, sinks: list[ListSink] | None = None) -> Scheduler:
    made = sinks if sinks is not None else []

    def factory() -> ListSink:
        made.append(ListSink())
        return made[-1]

    return Scheduler(runtime, factory, triggers=[PAGES], max_workers=4, clock=clock)


def _ran(reports: list[TenantRun]) -> list[str]:
    return sorted(r.tenant for r in reports if r.results)


def test_default_schedule_is_23_stockholm_and_runs_once_per_slot(runtime: Runtime, clock: FakeClock) -> None:
    scheduler = _scheduler(runtime, clock)
    record = runtime.store.require_tenant("acme")
    assert scheduler.next_due(record) == datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    clock.now = datetime(2026, 3, 2, 22, 59, tzinfo=STHLM)
    assert scheduler.run_due() == []
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    [report] = scheduler.run_due()
    assert report.ok and report.results[0].summary.events == 20
    clock.advance(minutes=30)
    assert scheduler.run_due() == []  # the 23:00 slot is done
    assert scheduler.next_due(runtime.store.require_tenant("acme")) == datetime(
        2026, 3, 3, 23, 0, tzinfo=STHLM
    )
    clock.now = datetime(2026, 3, 3, 23, 0, 5, tzinfo=STHLM)
    assert _ran(scheduler.run_due()) == ["acme"]


def test_a_missed_slot_runs_once_after_a_restart(runtime: Runtime, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 5, 8, 0, tzinfo=STHLM)  # down for three nights
    assert _ran(_scheduler(runtime, clock).run_due()) == ["acme"]
    fresh = _scheduler(runtime, clock)  # a restarted process knows the last run from run history
    assert fresh.run_due() == []
    assert fresh.next_due(runtime.store.require_tenant("acme")) == datetime(2026, 3, 5, 23, 0, tzinfo=STHLM)


def test_each_tenant_has_its_own_schedule_and_time_zone(
    runtime: Runtime, sandbox: Sandbox, clock: FakeClock
) -> None:
    add_connected(runtime, sandbox, "early", sandbox.tenant_ids()[1])
    runtime.store.save_config("early", {"schedule": "0 6 * * *", "timezone": "UTC"})
    scheduler = _scheduler(runtime, clock)
    assert scheduler.next_due(runtime.store.require_tenant("early")) == datetime(
        2026, 3, 3, 6, 0, tzinfo=ZoneInfo("UTC")
    )
    clock.now = datetime(2026, 3, 3, 7, 0, tzinfo=STHLM)  # 06:00 UTC
    assert _ran(scheduler.run_due()) == ["acme", "early"]  # acme: 23:00 passed; early: 06:00 UTC now


def test_paused_and_misconfigured_tenants_are_reported_and_the_others_run(
    runtime: Runtime, sandbox: Sandbox, clock: FakeClock
) -> None:
    add_disconnected(runtime, sandbox, "gone", sandbox.tenant_ids()[1])
    add_connected(runtime, sandbox, "broken", sandbox.tenant_ids()[2])
    runtime.store.save_config("broken", {"schedule": "every night"})
    add_connected(runtime, sandbox, "paused", sandbox.tenant_ids()[2])
    runtime.store.pause_tenant("paused", "must reconnect")
    reported: list[TenantRun] = []
    scheduler = _scheduler(runtime, clock)
    scheduler.on_result = reported.append
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    reports = {r.tenant: r for r in scheduler.run_due()}
    assert reports["acme"].ok and reports["acme"].results[0].summary.events == 20
    assert reports["gone"].paused and not reports["gone"].ok  # ReconnectRequired during the run
    assert runtime.store.require_tenant("gone").paused
    assert reports["paused"].paused_reason == "must reconnect" and not reports["paused"].results
    broken = reports["broken"].error
    assert broken is not None and broken.tenant == "broken" and "schedule" in str(broken)
    assert sorted(r.tenant for r in reported) == ["acme", "broken", "gone", "paused"]

    clock.advance(minutes=5)
    again = scheduler.run_due()
    assert again == []  # a pause or a broken config is reported once, not every loop


def test_a_resumed_tenant_runs_its_missed_slot(runtime: Runtime, sandbox: Sandbox, clock: FakeClock) -> None:
    runtime.store.pause_tenant("acme", "must reconnect")
    scheduler = _scheduler(runtime, clock)
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    [report] = scheduler.run_due()
    assert report.paused and not report.results
    runtime.store.resume_tenant("acme")  # what `connect` does
    clock.advance(minutes=1)
    assert _ran(scheduler.run_due()) == ["acme"]


def test_serve_waits_for_the_next_slot_and_stops_when_told(runtime: Runtime, clock: FakeClock) -> None:
    waits: list[float] = []
    sinks: list[ListSink] = []
    scheduler = _scheduler(runtime, clock, sinks)
    finished: list[TenantRun] = []
    scheduler.on_result = finished.append

    scheduler.max_idle_s = 3600

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock.advance(seconds=seconds)
        return clock.now >= datetime(2026, 3, 3, 12, 0, tzinfo=STHLM)

    scheduler.serve(wait)
    assert all(w <= 3600 for w in waits)
    # 10:00 → 23:00 in hour steps, the last one shortened to land on 23:00; then hours to noon.
    assert waits[:13] == [3600.0] * 13 and sum(waits) == 26 * 3600
    assert [r.tenant for r in finished] == ["acme"]  # ran once, at 23:00
    assert len(sinks[0].events) == 20 and sinks[0].closed


def test_run_all_runs_every_active_tenant_now(runtime: Runtime, sandbox: Sandbox, clock: FakeClock) -> None:
    for i in range(2):
        add_connected(runtime, sandbox, f"t{i}", sandbox.tenant_ids()[i + 1])
    runtime.store.pause_tenant("t1", "must reconnect")
    reports = {r.tenant: r for r in _scheduler(runtime, clock).run_all()}
    assert reports["acme"].ok and reports["t0"].ok
    assert reports["t1"].paused and not reports["t1"].results


def test_actions_in_run_history_do_not_hide_the_last_run(runtime: Runtime, clock: FakeClock) -> None:
    scheduler = _scheduler(runtime, clock)
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    assert _ran(scheduler.run_due()) == ["acme"]
    for _ in range(5):  # e.g. `act acme register_payment` afterwards
        clock.advance(minutes=1)
        run_id = runtime.store.start_run("acme", "act:register_payment")
        runtime.store.finish_run(run_id, summary={"ok": True})
    fresh = _scheduler(runtime, clock)
    assert fresh.run_due() == []
    assert fresh.next_due(runtime.store.require_tenant("acme")) == datetime(2026, 3, 3, 23, 0, tzinfo=STHLM)


def test_a_bug_in_one_tenants_run_does_not_stop_the_others(
    runtime: Runtime, sandbox: Sandbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    from fortnox_connector.context import TenantContext
    from fortnox_connector.contract.records import PollResult, TriggerSpec
    from tests.runtime.runtime_support import fortnox_with, page_trigger

    add_connected(runtime, sandbox, "buggy", sandbox.tenant_ids()[1])
    pages = page_trigger()

    def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
        if ctx.tenant == "buggy":
            raise KeyError("a bug")
        return pages.poll(ctx, cursor)

    runtime.catalog = fortnox_with(TriggerSpec(PAGES, "", {}, poll))
    reports = {r.tenant: r for r in _scheduler(runtime, clock).run_all()}
    assert reports["acme"].ok and reports["acme"].results[0].summary.events == 20
    error = reports["buggy"].error
    assert error is not None and error.tenant == "buggy" and "KeyError" in str(error)
    assert "the run failed unexpectedly" in caplog.text
    [run] = runtime.store.list_runs("buggy")
    assert run.error is not None and "crashed" in run.error  # run history says so too


def test_a_sink_that_cannot_be_made_is_reported_with_its_fix(runtime: Runtime, clock: FakeClock) -> None:
    from fortnox_connector.errors import ConfigError

    def factory() -> ListSink:
        raise ConfigError("the receiver's certificate is missing", hint="give the sink its cert= option")

    [report] = Scheduler(runtime, factory, triggers=[PAGES], clock=clock).run_all()
    assert report.error is not None and report.error.tenant == "acme"
    assert report.error.hint == "give the sink its cert= option" and not report.results
    assert runtime.store.load_cursor("acme", PAGES) is None


def test_a_slot_in_the_hour_the_clocks_go_back_runs_once(runtime: Runtime, clock: FakeClock) -> None:
    runtime.store.save_config("acme", {"schedule": "30 2 * * *"})
    scheduler = _scheduler(runtime, clock)
    clock.now = datetime(2026, 10, 25, 2, 30, tzinfo=STHLM, fold=0)  # 02:30 summer time (UTC+2)
    assert _ran(scheduler.run_due()) == ["acme"]
    clock.now = datetime(2026, 10, 25, 2, 30, tzinfo=STHLM, fold=1)  # an hour later: 02:30 again (UTC+1)
    assert clock.now.utcoffset() != datetime(2026, 10, 25, 2, 30, tzinfo=STHLM).utcoffset()
    assert _ran(scheduler.run_due()) == []
    assert _ran(_scheduler(runtime, clock).run_due()) == []  # nor after a restart
    record = runtime.store.require_tenant("acme")
    assert scheduler.next_due(record) == datetime(2026, 10, 26, 2, 30, tzinfo=STHLM)


def test_a_paused_tenant_is_logged_with_the_command_that_resumes_it(
    runtime: Runtime, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.store.pause_tenant("acme", "Fortnox refused the refresh token")
    _scheduler(runtime, clock).run_all()
    [line] = [r for r in caplog.records if "paused" in r.getMessage()]
    assert "fortnox-connector connect acme" in line.getMessage()
    assert "Fortnox refused the refresh token" in line.getMessage()


def test_many_actions_after_the_last_run_do_not_make_a_tenant_due(runtime: Runtime, clock: FakeClock) -> None:
    scheduler = _scheduler(runtime, clock)
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    assert _ran(scheduler.run_due()) == ["acme"]
    for _ in range(201):  # more than the 200 newest runs the scheduler once looked through
        runtime.store.start_run("acme", "act:register_payment")
    clock.advance(minutes=5)
    assert _scheduler(runtime, clock).run_due() == []  # `serve --due` from cron: a fresh process each time


def test_two_processes_on_one_store_run_a_slot_once(
    runtime: Runtime, sandbox: Sandbox, clock: FakeClock
) -> None:
    """Two ``serve`` processes find the 23:00 slot due at the same moment, before either has a run record;
    the second one to hold the run lock finds the first one's run and sends nothing."""
    first, second = _scheduler(runtime, clock), _scheduler(runtime, clock)  # each its own process's memory
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    due_first, _ = first.due()
    due_second, _ = second.due()  # both before either ran: no record of the slot yet
    assert [r.id for r in due_first] == [r.id for r in due_second] == ["acme"]
    [ran] = first._run_all_of(due_first, scheduled=True)
    before = sandbox.stats.requests
    [again] = second._run_all_of(due_second, scheduled=True)
    assert ran.results and ran.results[0].summary.events == 20
    assert again.ok and again.results == []  # the slot was run: nothing ran twice
    assert sandbox.stats.requests == before  # not one request
    assert len(runtime.store.list_runs("acme", triggers=[PAGES])) == 1


def test_a_run_started_by_hand_runs_even_after_the_slot_ran(runtime: Runtime, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=STHLM)
    scheduler = _scheduler(runtime, clock)
    assert _ran(scheduler.run_due()) == ["acme"]
    assert _ran(scheduler.run_all()) == ["acme"]  # `serve --once` / `run`: now, whatever ran before
