"""``serve``'s loop over several nights: a tenant that must reconnect is paused and reported once, the
others run every night; after ``connect`` resumes it, it runs its missed slot. Injected clock and wait."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler, TenantRun
from fortnox_connector.runtime.store.base import TenantRecord
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.runtime.runtime_support import (
    PAGES,
    FakeClock,
    ListSink,
    add_connected,
    add_disconnected,
    make_runtime,
)

STHLM = ZoneInfo("Europe/Stockholm")


class Joinable(Scheduler):
    """Keeps the futures of the runs ``serve`` starts, so the test's ``wait`` can let them finish first."""

    futures: list[Future[TenantRun]]

    def _submit(
        self, pool: ThreadPoolExecutor, records: Sequence[TenantRecord], *, scheduled: bool = False
    ) -> list[Future[TenantRun]]:
        started = super()._submit(pool, records, scheduled=scheduled)
        self.futures.extend(started)
        return started

    def join(self) -> None:
        while self.futures:
            self.futures.pop().result()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=STHLM))


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path, store_now=clock) as rt:
        for i, tenant in enumerate(("acme", "globex")):
            add_connected(rt, sandbox, tenant, sandbox.tenant_ids()[i])
        add_disconnected(rt, sandbox, "lapsed", sandbox.tenant_ids()[2])  # its refresh token is dead
        yield rt


def reconnect(runtime: Runtime, sandbox: Sandbox, tenant: str, company: int) -> None:
    """What `connect` stores: a new token pair; then the tenant is resumed."""
    answer = sandbox.issue_token(company)
    token = Token(
        access_token=Secret(str(answer["access_token"])),
        refresh_token=Secret(str(answer["refresh_token"])),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        scope=frozenset(str(answer["scope"]).split()),
    )
    old = runtime.store.load_token(tenant)
    assert runtime.store.swap_token(tenant, old.refresh_token if old else None, token)
    runtime.store.resume_tenant(tenant)


def test_a_tenant_that_must_reconnect_is_paused_and_the_others_go_on_night_after_night(
    runtime: Runtime, sandbox: Sandbox, clock: FakeClock
) -> None:
    reports: list[tuple[str, TenantRun]] = []
    scheduler = Joinable(
        runtime,
        ListSink,
        triggers=[PAGES],
        max_workers=4,
        clock=clock,
        on_result=lambda r: reports.append((clock.now.strftime("%d %H:%M"), r)),
        max_idle_s=3600,
    )
    scheduler.futures = []
    resume_at = datetime(2026, 3, 4, 9, 0, tzinfo=STHLM)

    def wait(seconds: float) -> bool:
        scheduler.join()  # the runs started at this instant finish at it (the clock stands still)
        clock.advance(seconds=seconds)
        if clock.now >= resume_at and runtime.store.require_tenant("lapsed").paused:
            reconnect(runtime, sandbox, "lapsed", sandbox.tenant_ids()[2])
        return clock.now >= datetime(2026, 3, 5, 12, 0, tzinfo=STHLM)

    scheduler.serve(wait)

    def runs(tenant: str) -> list[str]:
        return [when for when, r in reports if r.tenant == tenant and r.results and r.ok]

    assert runs("acme") == ["02 23:00", "03 23:00", "04 23:00"]
    assert runs("globex") == ["02 23:00", "03 23:00", "04 23:00"]
    lapsed = [(when, r) for when, r in reports if r.tenant == "lapsed"]
    # night 1: its run pauses it; night 2: reported (once) and skipped; after the resume on the 4th at
    # 09:00 it runs the missed slot at once, then its own slot that night.
    assert [when for when, _ in lapsed] == ["02 23:00", "03 23:00", "04 09:00", "04 23:00"]
    first, second, caught_up, third = (r for _, r in lapsed)
    assert first.paused and first.results and first.results[0].paused
    assert second.paused_reason is not None and "reconnect" in second.paused_reason and not second.results
    assert caught_up.ok and caught_up.results[0].summary.events == 20 and third.ok
    assert not runtime.store.require_tenant("lapsed").paused
