"""Taking over a tenant connected elsewhere from a seeded refresh token (``FORTNOX_OAUTH_REFRESH_TOKEN``),
against the sandbox over loopback: the seed is used once, the rotated token is stored and then wins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fortnox_connector.auth import AuthorizationCodeTokens, FortnoxOAuth, adopt_refresh_token
from fortnox_connector.contract.state import MemoryStateStore, Token
from fortnox_connector.errors import ReconnectRequired
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.fortnox.live import sandbox_client

TENANT = "acme-ab"


@pytest.fixture
def oauth(sandbox: Sandbox) -> Iterator[FortnoxOAuth]:
    client = FortnoxOAuth(sandbox.client_id, Secret(sandbox.client_secret), auth_base_url=sandbox.base_url)
    yield client
    client.close()


def test_a_seed_is_adopted_once_and_the_stored_token_wins_after(
    sandbox: Sandbox, oauth: FortnoxOAuth
) -> None:
    seed = Secret(str(sandbox.issue_token(sandbox.tenant_ids()[0])["refresh_token"]))
    store = MemoryStateStore()
    heard: list[str] = []
    adopted = adopt_refresh_token(TENANT, oauth, store, seed, on_refresh=lambda t, _tok: heard.append(t))
    assert adopted.refresh_token is not None and adopted.refresh_token != seed  # rotated at once
    assert store.load_token(TENANT) == adopted and heard == [TENANT]

    again = adopt_refresh_token(TENANT, oauth, store, seed)  # the host injects the same seed next run
    assert again == adopted and oauth.token_requests == 1
    with sandbox_client(sandbox, AuthorizationCodeTokens(TENANT, oauth, store), TENANT) as client:
        assert client.company_information().database_number == sandbox.tenant_ids()[0]


def test_a_dead_seed_asks_for_a_reconnect_naming_the_tenant(sandbox: Sandbox, oauth: FortnoxOAuth) -> None:
    store = MemoryStateStore()
    with pytest.raises(ReconnectRequired) as caught:
        adopt_refresh_token(TENANT, oauth, store, Secret("used-or-revoked-refresh-token"))
    assert caught.value.tenant == TENANT and "reconnect" in str(caught.value)
    assert "used-or-revoked" not in str(caught.value)
    stored: Token | None = store.load_token(TENANT)
    assert stored is None
