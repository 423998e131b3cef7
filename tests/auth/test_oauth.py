"""FortnoxOAuth against the emulated token endpoint."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fortnox_connector.auth import FortnoxOAuth, new_state, parse_scope
from fortnox_connector.errors import AuthError, ReconnectRequired
from fortnox_connector.secrets import Secret
from tests.auth.conftest import START, FakeClock
from tests.auth.fake_fortnox_auth import CLIENT_ID, CLIENT_SECRET, FakeFortnoxAuth

SECRETS = (CLIENT_SECRET, base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode())


def assert_no_secret(text: str, *extra: str) -> None:
    for value in (*SECRETS, *extra):
        assert value not in text


def test_authorization_url_carries_fortnox_parameters(oauth: FortnoxOAuth) -> None:
    url = oauth.authorization_url("st-1", ["invoice", "payment"], service_account=True)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://apps.example.test/oauth-v1/auth"
    query = parse_qs(parts.query)
    assert query == {
        "client_id": [CLIENT_ID],
        "response_type": ["code"],
        "state": ["st-1"],
        "scope": ["invoice payment"],
        "redirect_uri": ["https://host.example.test/callback"],
        "access_type": ["offline"],
        "account_type": ["service"],
    }
    assert "scope=invoice+payment" in url or "scope=invoice%20payment" in url


def test_authorization_url_without_offline_or_service(oauth: FortnoxOAuth) -> None:
    query = parse_qs(urlsplit(oauth.authorization_url("s", ["payment"], offline=False)).query)
    assert "access_type" not in query
    assert "account_type" not in query
    with pytest.raises(ValueError, match="state"):
        oauth.authorization_url("", ["payment"])


def test_new_state_is_random() -> None:
    a, b = new_state(), new_state()
    assert a != b
    assert len(a) >= 32


def test_exchange_code_sends_basic_auth_and_form(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, clock: FakeClock
) -> None:
    code = fake.issue_code("acme")
    token = oauth.exchange_code(code)
    (request,) = fake.requests
    assert request.form == {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://host.example.test/callback",
    }
    assert token.access_token.reveal().startswith("at-acme-")
    assert token.refresh_token is not None
    assert token.expires_at == START + timedelta(seconds=3600)
    assert token.expires_at.tzinfo is not None
    assert token.scope == frozenset({"invoice", "payment", "companyinformation"})
    assert token.token_type == "bearer"
    assert oauth.token_requests == 1
    with pytest.raises(ReconnectRequired):  # codes are single use
        oauth.exchange_code(code)


def test_refresh_rotates_and_reuse_needs_reconnect(oauth: FortnoxOAuth, fake: FakeFortnoxAuth) -> None:
    first = fake.issue_refresh_token("acme")
    token = oauth.refresh(Secret(first))
    assert token.refresh_token is not None and token.refresh_token.reveal() != first
    with pytest.raises(ReconnectRequired) as err:
        oauth.refresh(Secret(first))
    text = str(err.value)
    assert "invalid_grant" in text
    assert "reconnect" in text
    assert "HTTP 400" in text
    assert_no_secret(text, first)
    assert fake.refresh_tokens_presented() == [first, first]


def test_invalid_client_names_client_config(fake: FakeFortnoxAuth, clock: FakeClock) -> None:
    wrong = "wrong-secret-value"
    oauth = FortnoxOAuth(CLIENT_ID, Secret(wrong), auth_base_url="https://a.test", transport=fake.transport())
    refresh = fake.issue_refresh_token("acme")
    with pytest.raises(AuthError) as err:
        oauth.refresh(Secret(refresh))
    assert not isinstance(err.value, ReconnectRequired)
    assert "invalid_client" in str(err.value)
    assert "HTTP 401" in str(err.value)
    assert "client id and client secret" in str(err.value)
    assert_no_secret(str(err.value), wrong, refresh)
    with pytest.raises(AuthError, match=r"HTTP 400: invalid_client") as cc:
        oauth.client_credentials("123456")
    assert not isinstance(cc.value, ReconnectRequired)


def test_client_credentials_sends_tenant_id(oauth: FortnoxOAuth, fake: FakeFortnoxAuth) -> None:
    token = oauth.client_credentials("123456", ["payment", "invoice"])
    (request,) = fake.requests
    assert request.tenant_id == "123456"
    assert request.form == {"grant_type": "client_credentials", "scope": "payment invoice"}
    assert token.refresh_token is None
    assert token.access_token.reveal() == "at-123456-1"
    oauth.client_credentials("123456")
    assert fake.requests[1].form == {"grant_type": "client_credentials"}


def test_revoke(oauth: FortnoxOAuth, fake: FakeFortnoxAuth) -> None:
    refresh = fake.issue_refresh_token("acme")
    oauth.revoke(Secret(refresh))
    assert fake.requests[0].grant_type == "revoke"
    assert fake.requests[0].form == {"token_type_hint": "refresh_token", "token": refresh}
    assert oauth.token_requests == 0
    with pytest.raises(ReconnectRequired):
        oauth.refresh(Secret(refresh))


@pytest.mark.parametrize(
    ("status", "ctype", "body", "expected"),
    [
        (503, "text/html", b"<html>down</html>", "HTTP 503"),
        (200, "text/html", b"<html>maintenance</html>", "no access token"),
        (400, "application/json", b'{"error":"invalid_scope"}', "invalid_scope"),
    ],
)
def test_other_failures_are_auth_errors(status: int, ctype: str, body: bytes, expected: str) -> None:
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(status, headers={"Content-Type": ctype}, content=body)
    )
    oauth = FortnoxOAuth(CLIENT_ID, Secret(CLIENT_SECRET), transport=transport)
    with pytest.raises(AuthError, match=expected) as err:
        oauth.refresh(Secret("rt-some-refresh-token"))
    assert not isinstance(err.value, ReconnectRequired)
    assert_no_secret(str(err.value), "rt-some-refresh-token")


def test_error_description_echoing_a_secret_is_redacted() -> None:
    body = b'{"error":"invalid_request","error_description":"bad token rt-echoed-secret"}'
    transport = httpx.MockTransport(lambda _r: httpx.Response(400, content=body))
    oauth = FortnoxOAuth(CLIENT_ID, Secret(CLIENT_SECRET), transport=transport)
    with pytest.raises(AuthError) as err:
        oauth.refresh(Secret("rt-echoed-secret"))
    assert "rt-echoed-secret" not in str(err.value)
    assert "bad token ***" in str(err.value)


def test_network_failure_is_auth_error_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    caplog.set_level(logging.DEBUG)
    oauth = FortnoxOAuth(CLIENT_ID, Secret(CLIENT_SECRET), transport=httpx.MockTransport(fail))
    with pytest.raises(AuthError, match="could not reach") as err:
        oauth.refresh(Secret("rt-network-secret"))
    assert err.value.__cause__ is None
    assert_no_secret(str(err.value) + caplog.text, "rt-network-secret")


def test_expires_in_missing_or_odd_defaults_to_an_hour(clock: FakeClock) -> None:
    body = b'{"access_token":"at-x","expires_in":"soon","token_type":"Bearer","scope":"a,b c"}'
    transport = httpx.MockTransport(lambda _r: httpx.Response(200, content=body))
    oauth = FortnoxOAuth(CLIENT_ID, Secret(CLIENT_SECRET), transport=transport, clock=clock)
    token = oauth.client_credentials("1")
    assert token.expires_at == START + timedelta(hours=1)
    assert token.scope == frozenset({"a", "b", "c"})
    assert token.token_type == "bearer"


def test_parse_scope() -> None:
    assert parse_scope("invoice payment") == frozenset({"invoice", "payment"})
    assert parse_scope("invoice,payment") == frozenset({"invoice", "payment"})
    assert parse_scope(["x"]) == frozenset({"x"})
    assert parse_scope(None) == frozenset()


def test_client_secret_must_be_a_secret() -> None:
    with pytest.raises(TypeError):
        FortnoxOAuth(CLIENT_ID, CLIENT_SECRET)  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="client id"):
        FortnoxOAuth("", Secret(CLIENT_SECRET))


def test_no_secret_in_logs(
    oauth: FortnoxOAuth, fake: FakeFortnoxAuth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = fake.issue_refresh_token("acme")
    token = oauth.refresh(Secret(first))
    with pytest.raises(ReconnectRequired):
        oauth.refresh(Secret(first))
    oauth.client_credentials("123456")
    assert caplog.records  # something was logged
    assert token.refresh_token is not None
    assert_no_secret(caplog.text, first, token.access_token.reveal(), token.refresh_token.reveal())


def test_importing_auth_never_imports_authlibs_httpx_integration() -> None:
    """authlib >= 1.8 warns on importing its httpx integration; we must not import it."""
    code = (
        "import sys, fortnox_connector.auth, fortnox_connector.auth.providers;"
        "assert not [m for m in sys.modules if m.startswith('authlib.integrations')], 'integration imported'"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
