"""The rate limit across workers: three workers' clients of one tenant share one window in PostgreSQL.

Each "worker" has its own store, pacer registry and Fortnox client (as separate processes would); only the
database is shared. The sandbox enforces a small window (5 requests per 0.5 s) so the test is quick: with
the shared window not one request is refused; with each worker pacing alone (the control) the sandbox
answers 429s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.auth.providers import FixedToken
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.errors import RateLimited
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.fortnox.shared_pacing import WindowPacerRegistry
from fortnox_connector.runtime.store.postgres import PostgresStore
from fortnox_connector.sandbox import Sandbox

WORKERS, REQUESTS, LIMIT, WINDOW = 3, 10, 5, 0.5


def _hammer(
    sandbox: Sandbox, registries: list[PacerRegistry], *, max_retries: int = 5, requests: int = REQUESTS
) -> None:
    company = sandbox.tenant_ids()[0]
    token = str(sandbox.issue_token(company)["access_token"])
    start = threading.Barrier(len(registries))

    def worker(pacers: PacerRegistry) -> None:
        client = FortnoxClient(
            tenant="acme",
            tokens=FixedToken(token),
            client_id=sandbox.client_id,
            base_url=sandbox.base_url,
            pacers=pacers,
            max_retries=max_retries,
        )
        try:
            start.wait()
            for _ in range(requests):
                try:
                    client.company_information()
                except RateLimited:
                    continue  # the control: counted by the sandbox, not retried
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(r,)) for r in registries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def shared(store: PostgresStore, *, limit: int, window: float) -> PacerRegistry:
    """A worker's pacers on the store's rate window (what ``temporal worker`` hands its sessions)."""
    return WindowPacerRegistry(store.rate_window(), limit=limit, window=window)


def _each(make: Callable[[], PacerRegistry]) -> list[PacerRegistry]:
    return [make() for _ in range(WORKERS)]


@pytest.mark.sandbox(tenants=1, rate_limit_requests=LIMIT, rate_limit_window=WINDOW)
def test_workers_sharing_the_window_in_postgresql_are_never_refused(sandbox: Sandbox, pg_url: str) -> None:
    key = Fernet.generate_key()
    stores = [PostgresStore(pg_url, key) for _ in range(WORKERS)]
    try:
        _hammer(sandbox, [shared(s, limit=LIMIT, window=WINDOW) for s in stores])
    finally:
        for s in stores:
            s.close()
    assert sandbox.stats.by_path["/3/companyinformation"] == WORKERS * REQUESTS
    assert sandbox.stats.rate_limited == 0


@pytest.mark.sandbox(tenants=1, rate_limit_requests=LIMIT, rate_limit_window=WINDOW)
def test_control_workers_pacing_alone_together_exceed_the_limit(sandbox: Sandbox) -> None:
    # one burst: each worker's own window lets its LIMIT through, together 3 x LIMIT reach Fortnox at once
    _hammer(sandbox, _each(lambda: PacerRegistry(limit=LIMIT, window=WINDOW)), max_retries=0, requests=LIMIT)
    assert sandbox.stats.rate_limited > 0  # what the shared window prevents


def test_a_full_window_or_a_pause_seen_by_one_worker_holds_the_others_back(pg_url: str) -> None:
    """Slots taken by one worker count for another; a 429's pause set by one holds every worker back."""
    key = Fernet.generate_key()
    with PostgresStore(pg_url, key) as a, PostgresStore(pg_url, key) as b:
        one = shared(a, limit=2, window=0.2).get("client", "acme")
        other = shared(b, limit=2, window=0.2).get("client", "acme")
        assert one.acquire() == 0.0 and one.acquire() == 0.0  # room for two
        one.release()
        one.release()
        assert other.acquire() > 0.0  # the window is full of the first worker's answers: it waited
        other.release()
        one.pause_until(one.clock() + 0.2)
        assert shared(b, limit=25, window=0.2).get("client", "acme").acquire() > 0.0
