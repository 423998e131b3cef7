"""run_tenant_trigger on the sandbox: outbox first, page by page, cursor after delivery, pausing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ReconnectRequired
from fortnox_connector.runtime.catalog import StaticCatalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import TenantPaused, run_tenant_trigger
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import (
    PAGES,
    ListSink,
    add_connected,
    add_disconnected,
    fortnox_with,
    make_runtime,
    page_trigger,
)


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path) as rt:
        add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
        yield rt


def _all_keys(sandbox: Sandbox) -> set[str]:
    return {f"payment:{p['Number']}" for p in sandbox.payments(sandbox.tenant_ids()[0])}


def test_runs_every_page_and_commits_the_last_cursor(runtime: Runtime, sandbox: Sandbox) -> None:
    sink = ListSink()
    seen: list[int] = []
    result = run_tenant_trigger(
        runtime, "acme", page_trigger(limit=5), sink, progress=lambda s: seen.append(s.pages)
    )
    assert result.ok and result.complete
    assert set(sink.keys) == _all_keys(sandbox) and len(sink.keys) == len(_all_keys(sandbox))
    assert result.delivered == len(sink.keys) and result.redelivered == 0
    assert seen == [1, 2, 3, 4]  # 20 payments, 5 a page
    assert runtime.store.load_cursor("acme", PAGES) == "5"
    [run] = runtime.store.list_runs("acme")
    assert run.error is None and run.finished_at is not None
    assert run.summary is not None and run.summary["delivered"] == 20 and run.summary["pages"] == 4


def test_a_failed_delivery_keeps_the_cursor_and_the_next_run_sends_the_rest(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    first = ListSink(fail_on=3)  # pages 1 and 2 delivered, page 3 refused
    result = run_tenant_trigger(runtime, "acme", page_trigger(limit=5), first)
    assert result.error is not None and result.error.tenant == "acme"
    assert "receiver down" in str(result.error)
    assert runtime.store.load_cursor("acme", PAGES) == "3"
    assert len(runtime.store.pending("acme", PAGES)) == 5  # page 3 waits in the outbox
    [run] = runtime.store.list_runs("acme")
    assert run.error is not None and "receiver down" in run.error

    second = ListSink()
    again = run_tenant_trigger(runtime, "acme", page_trigger(limit=5), second)
    assert again.ok and again.redelivered == 5  # the outbox went first
    assert set(first.keys) | set(second.keys) == _all_keys(sandbox)
    assert len(second.keys) == 10  # page 3 from the outbox (its cursor "4" committed), then page 4
    assert not set(first.keys) & set(second.keys)
    assert runtime.store.pending("acme", PAGES) == []


def test_events_left_by_a_crash_go_out_before_polling(runtime: Runtime) -> None:
    leftover = Event(PAGES, "acme", "payment:left", {"number": "left"})
    runtime.store.enqueue("acme", PAGES, [leftover], "2")  # saved, never delivered: a crash
    sink = ListSink()
    result = run_tenant_trigger(runtime, "acme", page_trigger(limit=5), sink)
    assert sink.keys[0] == "payment:left"
    assert result.redelivered == 1
    assert len(sink.keys) == 1 + 15  # then polling resumed from the committed cursor "2": pages 2-4


def test_reconnect_required_pauses_the_tenant_and_later_runs_are_skipped(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    add_disconnected(runtime, sandbox, "gone", sandbox.tenant_ids()[1])
    result = run_tenant_trigger(runtime, "gone", page_trigger(), ListSink())
    assert isinstance(result.error, ReconnectRequired)
    assert result.paused and result.error.tenant == "gone"
    record = runtime.store.require_tenant("gone")
    assert record.paused and record.paused_reason is not None and "reconnect" in record.paused_reason
    assert runtime.store.list_runs("gone")[0].summary is not None

    skipped = run_tenant_trigger(runtime, "gone", page_trigger(), ListSink())
    assert skipped.skipped and isinstance(skipped.error, TenantPaused)
    assert "connect gone" in str(skipped.error)
    assert len(runtime.store.list_runs("gone")) == 1  # nothing ran


def test_one_run_per_tenant_and_trigger_at_a_time(runtime: Runtime) -> None:
    """While the run lock is held elsewhere, a run waits; it proceeds once the holder finishes."""
    import threading

    from fortnox_connector.runtime.jobs import run_lock_name

    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with runtime.store.lock(run_lock_name("acme", PAGES)):
            entered.set()
            release.wait(10)
            order.append("holder done")

    def runner() -> None:
        run_tenant_trigger(runtime, "acme", page_trigger(limit=5), ListSink())
        order.append("run done")

    t1 = threading.Thread(target=holder)
    t1.start()
    assert entered.wait(10)
    t2 = threading.Thread(target=runner)
    t2.start()
    t2.join(0.2)  # the run cannot finish while the lock is held (join, not sleep: returns early if it did)
    assert t2.is_alive()
    release.set()
    t1.join(10)
    t2.join(10)
    assert order == ["holder done", "run done"]


class _Checkpoints(StaticCatalog):
    """A catalog that records the checkpoints observers are told of."""

    def __init__(self) -> None:
        super().__init__(fortnox_with(page_trigger(limit=5)).connector)
        self.seen: list[str] = []

    def checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        self.seen.append(cursor)


def test_observers_hear_of_every_committed_cursor_also_from_the_outbox(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    catalog = _Checkpoints()
    with make_runtime(sandbox, tmp_path, catalog=catalog) as rt:
        add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
        leftover = Event(PAGES, "acme", "payment:left", {"number": "left"})
        rt.store.enqueue("acme", PAGES, [leftover], "2")  # a crash left it: the drain commits "2"
        failed = run_tenant_trigger(rt, "acme", page_trigger(limit=5), ListSink(fail_on=3))
        assert failed.error is not None and rt.store.load_cursor("acme", PAGES) == "3"
        assert catalog.seen == ["2", "3"]  # the drain's cursor, then page 2's before page 3 failed
        run_tenant_trigger(rt, "acme", page_trigger(limit=5), ListSink())
        assert catalog.seen == ["2", "3", "4", "5"]  # page 3 from the outbox, then page 4


def test_an_action_that_crashes_is_recorded_as_finished_with_its_error(runtime: Runtime) -> None:
    from typing import Any

    from fortnox_connector.runtime.cli.running import run_action

    def buggy(ctx: Any, data: Any) -> Any:
        raise KeyError("a bug")

    from fortnox_connector.contract import ActionSpec

    runtime.catalog = fortnox_with(actions=(ActionSpec("register_payment", "", {}, {}, buggy),))
    with pytest.raises(KeyError):
        run_action(runtime, "acme", "register_payment", {})
    [run] = runtime.store.list_runs("acme")
    assert run.trigger == "act:register_payment" and run.finished_at is not None
    assert run.error is not None and "crashed: KeyError" in run.error


def test_a_tenant_paused_while_the_run_waited_for_its_lock_is_not_run(
    runtime: Runtime, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections.abc import Iterator as It
    from contextlib import contextmanager

    real_lock = runtime.store.lock

    @contextmanager
    def lock(name: str) -> It[None]:
        with real_lock(name):
            runtime.store.pause_tenant("acme", "Fortnox refused the refresh token")  # the run before us
            yield

    monkeypatch.setattr(runtime.store, "lock", lock)
    before = sandbox.stats.token_requests
    result = run_tenant_trigger(runtime, "acme", page_trigger(limit=5), ListSink())
    assert result.skipped and isinstance(result.error, TenantPaused)
    assert result.error.tenant == "acme" and "connect acme" in str(result.error)
    assert runtime.store.list_runs("acme") == [] and sandbox.stats.token_requests == before


def test_a_run_that_crashes_after_delivering_records_what_it_delivered(runtime: Runtime) -> None:
    from typing import Any

    from fortnox_connector.context import TenantContext
    from fortnox_connector.contract.records import PollResult, TriggerSpec

    pages = page_trigger(limit=5)

    def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
        if cursor == "2":
            raise KeyError("a bug")
        return pages.poll(ctx, cursor)

    spec: TriggerSpec[Any] = TriggerSpec(PAGES, "", {}, poll)
    with pytest.raises(KeyError):
        run_tenant_trigger(runtime, "acme", spec, ListSink())
    [run] = runtime.store.list_runs("acme")
    assert run.error is not None and "crashed: KeyError" in run.error
    assert run.summary is not None and run.summary["delivered"] == 5  # page 1 went out before the bug
    assert runtime.store.load_cursor("acme", PAGES) == "2"


def test_a_runs_retries_and_token_refresh_are_in_its_record_and_its_log_line(
    runtime: Runtime, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Fortnox forgets the access token: 401, a refresh, the request once more. Operators see both."""
    stored = runtime.store.load_token("acme")
    assert stored is not None and sandbox.oauth.revoke(stored.access_token.reveal())
    with caplog.at_level(logging.INFO, logger="fortnox_connector.runtime.jobs"):
        result = run_tenant_trigger(runtime, "acme", runtime.catalog.trigger(PAGES), ListSink())
    assert result.ok and (result.summary.retries, result.token_refreshes) == (1, 1)
    [run] = runtime.store.list_runs("acme", triggers=[PAGES])
    assert run.summary is not None and (run.summary["retries"], run.summary["token_refreshes"]) == (1, 1)
    [line] = [r.getMessage() for r in caplog.records if r.name == "fortnox_connector.runtime.jobs"]
    assert "(1 retry, 1 token refresh)" in line
