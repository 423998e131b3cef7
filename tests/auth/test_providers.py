"""Token providers: rotation through the store, client-credentials renewal, host-managed expiry."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from fortnox_connector.auth import (
    AuthorizationCodeTokens,
    ClientCredentialsTokens,
    FortnoxOAuth,
    HostManagedTokens,
    connect_tenant,
    token_lock_name,
)
from fortnox_connector.contract.state import MemoryStateStore, Token
from fortnox_connector.errors import ConfigError, ReconnectRequired, TokenExpired
from fortnox_connector.secrets import Secret
from tests.auth.conftest import START, FakeClock
from tests.auth.fake_fortnox_auth import CLIENT_SECRET, FakeFortnoxAuth, TokenRequest

TENANT = "acme"


def stored_token(refresh: str, *, access: str = "at-old", expires_in: float = 3600) -> Token:
    return Token(
        Secret(access), START + timedelta(seconds=expires_in), frozenset({"payment"}), Secret(refresh)
    )


@pytest.fixture
def store(fake: FakeFortnoxAuth) -> MemoryStateStore:
    s = MemoryStateStore()
    s.tokens[TENANT] = stored_token(fake.issue_refresh_token(TENANT), expires_in=60)  # inside the margin
    return s


class Observed:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Token]] = []

    def __call__(self, tenant: str, token: Token) -> None:
        self.calls.append((tenant, token))


# -- authorization code ---------------------------------------------------------------------------
def test_valid_token_is_used_without_a_request(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock
) -> None:
    store = MemoryStateStore(tokens={TENANT: stored_token("rt-x", expires_in=3600)})
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock)
    assert tokens.access_token() == Secret("at-old")
    assert tokens.extra_headers() == {}
    assert fake.requests == []


def test_refresh_near_expiry_persists_before_use(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, store: MemoryStateStore, clock: FakeClock
) -> None:
    old = store.tokens[TENANT].refresh_token
    observed = Observed()
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock, on_refresh=observed)
    access = tokens.access_token()
    stored = store.tokens[TENANT]
    assert access == stored.access_token != Secret("at-old")
    assert stored.refresh_token is not None and stored.refresh_token != old
    assert observed.calls == [(TENANT, stored)]
    assert tokens.access_token() == access  # cached: no second request
    assert len(fake.token_requests) == 1
    clock.advance(3600 - 299)  # inside the 300 s margin again
    assert tokens.access_token() != access
    assert len(fake.token_requests) == 2
    presented = fake.refresh_tokens_presented()
    assert len(set(presented)) == len(presented)  # never reused


def test_re_reads_after_taking_the_lock(oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock) -> None:
    """Another worker refreshed while we waited for the lock: use its token, send nothing."""
    fresh = stored_token("rt-from-other-worker", access="at-from-other-worker")

    class OtherWorkerWins(MemoryStateStore):
        @contextmanager
        def lock(self, name: str) -> Iterator[None]:
            assert name == token_lock_name(TENANT)
            with super().lock(name):
                self.tokens[TENANT] = fresh  # what the other worker stored before releasing the lock
                yield

    store = OtherWorkerWins(tokens={TENANT: stored_token("rt-stale", expires_in=10)})
    observed = Observed()
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock, on_refresh=observed)
    assert tokens.access_token() == Secret("at-from-other-worker")
    assert fake.requests == []
    assert observed.calls == []


def test_swap_failure_uses_what_is_stored(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, store: MemoryStateStore, clock: FakeClock
) -> None:
    reconnected = stored_token("rt-reconnected", access="at-reconnected")

    class ReconnectedMeanwhile(MemoryStateStore):
        def swap_token(self, tenant: str, expected_refresh_token: Secret | None, new: Token) -> bool:
            self.tokens[tenant] = reconnected  # written without our lock, e.g. by `connect`
            return super().swap_token(tenant, expected_refresh_token, new)

    racing = ReconnectedMeanwhile(tokens=dict(store.tokens))
    observed = Observed()
    tokens = AuthorizationCodeTokens(TENANT, oauth, racing, clock=clock, on_refresh=observed)
    assert tokens.access_token() == Secret("at-reconnected")
    assert racing.tokens[TENANT] == reconnected
    assert len(fake.token_requests) == 1
    assert observed.calls == []


def test_invalid_grant_needs_reconnect_and_is_not_retried(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = MemoryStateStore(tokens={TENANT: stored_token("rt-already-used", expires_in=0)})
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock)
    for _ in range(3):
        with pytest.raises(ReconnectRequired) as err:
            tokens.access_token()
        assert err.value.tenant == TENANT
        assert str(err.value).startswith(f"tenant {TENANT}: ")
        assert "reconnect" in str(err.value)
        assert "rt-already-used" not in str(err.value)
    assert len(fake.token_requests) == 1
    assert "rt-already-used" not in caplog.text


def test_not_connected_tells_how_to_connect(oauth: FortnoxOAuth, clock: FakeClock) -> None:
    tokens = AuthorizationCodeTokens(TENANT, oauth, MemoryStateStore(), clock=clock)
    with pytest.raises(ReconnectRequired, match=f"fortnox-connector connect {TENANT}") as err:
        tokens.access_token()
    assert err.value.tenant == TENANT


def test_client_errors_name_the_tenant(
    fake: FakeFortnoxAuth, store: MemoryStateStore, clock: FakeClock
) -> None:
    bad = FortnoxOAuth("app-client-id", Secret("not-the-secret"), transport=fake.transport(), clock=clock)
    tokens = AuthorizationCodeTokens(TENANT, bad, store, clock=clock)
    with pytest.raises(Exception, match="invalid_client") as err:
        tokens.access_token()
    assert not isinstance(err.value, ReconnectRequired | ConfigError)
    assert str(err.value).startswith(f"tenant {TENANT}: ")
    assert "not-the-secret" not in str(err.value)


def test_invalidate_after_401_refreshes_once(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock
) -> None:
    store = MemoryStateStore(tokens={TENANT: stored_token(fake.issue_refresh_token(TENANT))})
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock)
    rejected = tokens.access_token()
    tokens.invalidate(rejected)
    renewed = tokens.access_token()
    assert renewed != rejected
    assert tokens.access_token() == renewed
    assert len(fake.token_requests) == 1


def test_invalidate_prefers_a_token_another_worker_stored(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock
) -> None:
    store = MemoryStateStore(tokens={TENANT: stored_token("rt-1", access="at-1")})
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock)
    assert tokens.access_token() == Secret("at-1")
    store.tokens[TENANT] = stored_token("rt-2", access="at-2")  # another process refreshed
    tokens.invalidate(Secret("at-1"))
    assert tokens.access_token() == Secret("at-2")
    assert fake.requests == []


def test_failing_observer_does_not_break_refresh(
    oauth: FortnoxOAuth, store: MemoryStateStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(tenant: str, token: Token) -> None:
        raise RuntimeError(f"boom {token.access_token.reveal()}")

    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock, on_refresh=broken)
    access = tokens.access_token()
    assert "observer failed" in caplog.text
    assert access.reveal() not in caplog.text


def test_threads_refresh_once(oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock) -> None:
    workers = 6
    arrived = threading.Semaphore(0)

    class CountingStore(MemoryStateStore):
        @contextmanager
        def lock(self, name: str) -> Iterator[None]:
            arrived.release()
            with super().lock(name):
                yield

    store = CountingStore(tokens={TENANT: stored_token(fake.issue_refresh_token(TENANT), expires_in=5)})

    def hold(_request: TokenRequest) -> None:  # answer once every worker queued for the lock
        for _ in range(workers):
            assert arrived.acquire(timeout=20)

    fake.before_token = hold
    start = threading.Barrier(workers)
    results: list[Secret] = []
    errors: list[BaseException] = []

    def run() -> None:
        # one provider per worker, as separate runs of a host would have
        provider = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock)
        start.wait(timeout=20)
        try:
            results.append(provider.access_token())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(fake.token_requests) == 1
    assert set(results) == {store.tokens[TENANT].access_token}
    assert len(results) == workers


# -- client credentials ---------------------------------------------------------------------------
def test_client_credentials_cached_and_renewed_before_expiry(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock
) -> None:
    observed = Observed()
    tokens = ClientCredentialsTokens(
        TENANT, "123456", oauth, scopes=["payment"], clock=clock, on_refresh=observed
    )
    first = tokens.access_token()
    assert tokens.access_token() == first
    assert [r.tenant_id for r in fake.token_requests] == ["123456"]
    assert fake.token_requests[0].form["scope"] == "payment"
    clock.advance(3600 - 301)
    assert tokens.access_token() == first
    clock.advance(2)  # now 299 s before expiry: inside the margin
    second = tokens.access_token()
    assert second != first
    assert len(fake.token_requests) == 2
    assert [c[0] for c in observed.calls] == [TENANT, TENANT]
    tokens.invalidate(second)
    assert tokens.access_token() not in (first, second)
    assert len(fake.token_requests) == 3
    assert tokens.extra_headers() == {}


def test_client_credentials_threads_share_one_token(oauth: FortnoxOAuth, fake: FakeFortnoxAuth) -> None:
    tokens = ClientCredentialsTokens(TENANT, "123456", oauth)
    start = threading.Barrier(5)
    results: list[Secret] = []

    def run() -> None:
        start.wait(timeout=20)
        results.append(tokens.access_token())

    threads = [threading.Thread(target=run) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 5 and len(set(results)) == 1
    assert len(fake.token_requests) == 1


def test_client_credentials_without_consent(oauth: FortnoxOAuth, clock: FakeClock) -> None:
    tokens = ClientCredentialsTokens(TENANT, "999", oauth, clock=clock)
    with pytest.raises(ReconnectRequired, match="service account") as err:
        tokens.access_token()
    assert err.value.tenant == TENANT
    assert CLIENT_SECRET not in str(err.value)


# -- host managed ---------------------------------------------------------------------------------
def test_host_managed_never_refreshes(clock: FakeClock) -> None:
    token = Token(Secret("at-host"), START + timedelta(minutes=10), frozenset())
    tokens = HostManagedTokens(TENANT, token, clock=clock)
    assert tokens.access_token() == Secret("at-host")
    assert tokens.extra_headers() == {}
    clock.advance(600)
    with pytest.raises(TokenExpired) as err:
        tokens.access_token()
    text = str(err.value)
    assert err.value.tenant == TENANT
    assert "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN" in text
    assert "host must refresh" in text
    assert "at-host" not in text
    tokens.replace(Token(Secret("at-new"), START + timedelta(hours=2), frozenset()))
    assert tokens.access_token() == Secret("at-new")


def test_host_managed_after_401(clock: FakeClock) -> None:
    tokens = HostManagedTokens(
        TENANT, Token(Secret("at-host"), START + timedelta(hours=1), frozenset()), clock=clock
    )
    tokens.invalidate(Secret("someone-else"))
    assert tokens.access_token() == Secret("at-host")
    tokens.invalidate(Secret("at-host"))
    with pytest.raises(TokenExpired, match="rejected"):
        tokens.access_token()


# -- connecting -----------------------------------------------------------------------------------
def test_connect_tenant_stores_the_new_connection(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock
) -> None:
    store = MemoryStateStore(tokens={TENANT: stored_token("rt-revoked-long-ago")})
    observed = Observed()
    token = connect_tenant(TENANT, oauth, store, fake.issue_code(TENANT), on_refresh=observed)
    assert store.tokens[TENANT] == token
    assert token.refresh_token is not None
    assert observed.calls == [(TENANT, token)]
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, clock=clock)
    assert tokens.access_token() == token.access_token


def test_connect_tenant_with_a_dead_code_names_the_tenant(oauth: FortnoxOAuth) -> None:
    store = MemoryStateStore()
    with pytest.raises(ReconnectRequired) as err:
        connect_tenant(TENANT, oauth, store, "code-never-issued")
    assert err.value.tenant == TENANT
    assert store.tokens == {}
