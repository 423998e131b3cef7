"""OAuth over recorded HTTP: code exchange, refresh with rotation on an injected clock, client
credentials, and ``invalid_grant`` when a used refresh token comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fortnox_connector.auth.providers import AuthorizationCodeTokens, ClientCredentialsTokens
from fortnox_connector.contract.state import MemoryStateStore, Token
from fortnox_connector.errors import ReconnectRequired
from fortnox_connector.secrets import Secret
from tests.cassettes.target import START, Target

pytestmark = pytest.mark.vcr

T0 = START.astimezone(UTC)


class Clock:
    """An injected clock: token expiry is decided by it, never by the wall clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_code_exchange_gives_a_working_token(target: Target) -> None:
    code = target.authorization_code()
    oauth = target.oauth(Clock(T0))
    token = oauth.exchange_code(code)
    target.keep_refresh_token(token.refresh_token)
    assert token.refresh_token is not None and token.expires_at == T0 + timedelta(seconds=3600)
    assert {"invoice", "payment", "companyinformation"} <= token.scope
    with target.client(token.access_token.reveal()) as client:
        assert client.company_information().database_number is not None


def test_refresh_rotates_the_refresh_token_when_the_clock_nears_expiry(target: Target) -> None:
    clock = Clock(T0)
    oauth = target.oauth(clock)
    store = MemoryStateStore()
    first = Secret(target.refresh_token())
    store.swap_token(
        "cassette",
        None,
        Token(Secret("<ACCESS_TOKEN_0>"), T0 + timedelta(seconds=3600), frozenset(), refresh_token=first),
    )
    tokens = AuthorizationCodeTokens("cassette", oauth, store)

    clock.now = T0 + timedelta(seconds=3000)  # 10 minutes left: outside the 5-minute margin, no refresh
    assert tokens.access_token() == Secret("<ACCESS_TOKEN_0>") and oauth.token_requests == 0

    clock.now = T0 + timedelta(seconds=3400)  # inside the margin: refresh
    with target.client(tokens=tokens) as client:
        client.company_information()
    second = store.load_token("cassette")
    assert second is not None and second.refresh_token not in (None, first)
    assert second.expires_at == clock.now + timedelta(seconds=3600)

    clock.now = second.expires_at + timedelta(seconds=1)  # expired: refresh again, with the new one
    with target.client(tokens=tokens) as client:
        client.company_information()
    third = store.load_token("cassette")
    assert third is not None and third.refresh_token not in (None, first, second.refresh_token)
    assert oauth.token_requests == 2
    target.keep_refresh_token(third.refresh_token)


def test_client_credentials_token_works_for_the_tenant(target: Target) -> None:
    clock = Clock(T0)
    oauth = target.oauth(clock)
    tokens = ClientCredentialsTokens("cassette", target.tenant_id, oauth, clock=clock)
    with target.client(tokens=tokens) as client:
        info = client.company_information()
    assert info.database_number is not None
    assert oauth.token_requests == 1


def test_client_credentials_answer_has_no_refresh_token(target: Target) -> None:
    token = target.oauth(Clock(T0)).client_credentials(target.tenant_id)
    assert token.refresh_token is None and token.expires_at > T0


def test_a_used_refresh_token_is_invalid_grant(target: Target) -> None:
    oauth = target.oauth(Clock(T0))
    first = target.refresh_token()
    fresh = oauth.refresh(Secret(first))
    target.keep_refresh_token(fresh.refresh_token)
    with pytest.raises(ReconnectRequired) as caught:
        oauth.refresh(Secret(first))
    assert first not in str(caught.value)
    assert oauth.token_requests == 2
