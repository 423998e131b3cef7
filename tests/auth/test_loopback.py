"""FortnoxOAuth over real HTTP on 127.0.0.1: headers, form bodies and text/html JSON as on the wire."""

from __future__ import annotations

import pytest

from fortnox_connector.auth import FortnoxOAuth
from fortnox_connector.errors import ReconnectRequired
from fortnox_connector.secrets import Secret
from tests.auth.conftest import FakeClock
from tests.auth.fake_fortnox_auth import CLIENT_ID, CLIENT_SECRET, FakeFortnoxAuth

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])


def test_token_flows_over_loopback(fake: FakeFortnoxAuth, clock: FakeClock) -> None:
    with fake.serve() as base_url:
        oauth = FortnoxOAuth(
            CLIENT_ID, Secret(CLIENT_SECRET), auth_base_url=base_url, clock=clock, timeout=10
        )
        try:
            first = oauth.exchange_code(fake.issue_code("acme"))
            assert first.refresh_token is not None
            second = oauth.refresh(first.refresh_token)
            with pytest.raises(ReconnectRequired):
                oauth.refresh(first.refresh_token)  # single use: 400 invalid_grant served as text/html
            service = oauth.client_credentials("123456")
        finally:
            oauth.close()
    assert second.access_token != first.access_token
    assert service.refresh_token is None
    assert [r.grant_type for r in fake.requests] == [
        "authorization_code",
        "refresh_token",
        "refresh_token",
        "client_credentials",
    ]
    assert fake.requests[-1].tenant_id == "123456"
    assert oauth.token_requests == 4
