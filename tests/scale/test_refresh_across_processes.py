"""32 refreshers of one tenant in 4 processes over PostgreSQL: one refresh per expiry, nobody reconnects.

Every refresher is a fresh ``AuthorizationCodeTokens`` (nothing cached), all released at once onto a
stored token that has just expired. The store's advisory lock lets one refresh; the others re-read the
stored token after the lock and use the new one. Fortnox's refresh tokens are single use (the sandbox
too): a second refresh with the same token would be ``invalid_grant`` and force the tenant to reconnect.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.auth import FortnoxOAuth
from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.store.postgres import PostgresStore
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.scale.refreshers import refresh_rounds

PROCESSES, THREADS, ROUNDS = 4, 8, 3
TENANT = "acme"


def _expire(store: PostgresStore) -> None:
    """Mark the stored token expired (same refresh token, compare-and-swap)."""
    token = store.load_token(TENANT)
    assert token is not None
    past = dataclasses.replace(token, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert store.swap_token(TENANT, token.refresh_token, past)


def test_32_refreshers_in_4_processes_refresh_once_per_expiry(sandbox: Sandbox, pg_url: str) -> None:
    key = Fernet.generate_key()
    tenant_id = sandbox.tenant_ids()[0]
    first = sandbox.issue_token(tenant_id)
    store = PostgresStore(pg_url, key)
    store.add_tenant(TENANT, display_name="Acme", auth_mode="authorization_code")
    initial = Token(
        Secret(str(first["access_token"])),
        datetime.now(UTC) + timedelta(hours=1),
        frozenset(str(first["scope"]).split()),
        Secret(str(first["refresh_token"])),
    )
    assert store.swap_token(TENANT, None, initial)
    sandbox.stats.token_requests = 0

    ctx = multiprocessing.get_context("spawn")
    go = ctx.Barrier(PROCESSES * THREADS + 1)
    results = ctx.Queue()
    client = (sandbox.client_id, sandbox.client_secret)
    procs = [
        ctx.Process(
            target=refresh_rounds,
            args=(pg_url, key, sandbox.base_url, client, TENANT, THREADS, ROUNDS, go, results),
        )
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    try:
        seen: list[tuple[int, str | None, str | None]] = []
        for n in range(ROUNDS):
            _expire(store)
            go.wait(timeout=120)  # release the 32
            go.wait(timeout=120)  # and wait for all of them
            seen.extend(results.get(timeout=60) for _ in range(PROCESSES * THREADS))
            assert sandbox.stats.token_requests == n + 1  # exactly one refresh for this expiry
    except BaseException:
        go.abort()  # release the children at once
        raise
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():  # pragma: no cover - only on failure
                p.kill()
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    assert [error for _, _, error in seen if error] == []  # nobody was told to reconnect
    for n in range(ROUNDS):
        assert len({access for r, access, _ in seen if r == n}) == 1  # all 32 use the one new token
    stored = store.load_token(TENANT)
    assert stored is not None and stored.refresh_token is not None and not store.require_tenant(TENANT).paused
    oauth = FortnoxOAuth(sandbox.client_id, Secret(sandbox.client_secret), auth_base_url=sandbox.base_url)
    try:
        assert oauth.refresh(stored.refresh_token).access_token  # the stored refresh token is the live one
    finally:
        oauth.close()
        store.close()


@pytest.fixture
def sandbox_options() -> object:
    from fortnox_connector.sandbox import SandboxOptions

    return SandboxOptions(rate_limit=False, tenants=1)
