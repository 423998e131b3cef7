"""Each auth mode through a full flow against the sandbox over loopback, with every logger at DEBUG
(httpx and httpcore included): no token, code or client secret ever shows in a log record, an exception
(its traceback and causes included) or a repr. The same flows show the 401 -> new token -> retry keeping the
query and page, and what a tenant sees when consent is revoked, a licence or a scope is missing."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fortnox_connector.auth import (
    AuthorizationCodeTokens,
    ClientCredentialsTokens,
    FortnoxOAuth,
    connect_tenant,
    new_state,
)
from fortnox_connector.auth.injected import (
    ACCESS_TOKEN_ENV,
    CLIENT_ID_ENV,
    EXPIRES_IN_ENV,
    SCOPE_ENV,
    parse_injected_token,
)
from fortnox_connector.contract.state import MemoryStateStore, Token
from fortnox_connector.errors import AuthError, ConfigError, ConnectorError, ReconnectRequired, TokenExpired
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.errors import MissingLicence, MissingScope
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.fortnox.live import Wire, sandbox_client

TENANT = "acme-ab"  # the host's name for the tenant; the sandbox knows it by its DatabaseNumber
REDIRECT = "https://host.example.test/callback"
ALL_SCOPES = ("invoice", "payment", "companyinformation", "settings")


class Clock:
    """The connector's UTC clock, started at the sandbox's business time and moved with it."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.now = sandbox.now().astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.sandbox.advance(seconds)


@dataclass
class Leaks:
    """Collects every secret value a flow handled and every text the flow produced."""

    caplog: pytest.LogCaptureFixture
    secrets: set[str] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)

    def secret(self, *values: object) -> None:
        for value in values:
            raw = value.reveal() if isinstance(value, Secret) else value
            if isinstance(raw, str) and raw:
                self.secrets.add(raw)

    def token(self, token: Token) -> None:
        self.secret(token.access_token, token.refresh_token)

    def error(self, exc: BaseException) -> None:
        self.texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]

    def reprs(self, *objects: object) -> None:
        self.texts += [repr(o) for o in objects] + [str(o) for o in objects]

    def check(self) -> None:
        records = self.caplog.records
        assert records, "the flow logged nothing: the DEBUG capture is not working"
        assert any(r.name.startswith("httpx") for r in records)  # third-party DEBUG/INFO lines too
        everything = [self.caplog.text, *self.texts]
        everything += [r.getMessage() for r in records] + [repr(vars(r)) for r in records]
        assert len(self.secrets) >= 2
        found = sorted({s[:6] + "…" for s in self.secrets for text in everything if s in text})

        assert found == [], f"secrets leaked: {found}"
        assert "Bearer ey" not in self.caplog.text and "Basic " not in self.caplog.text


@pytest.fixture
def leaks(caplog: pytest.LogCaptureFixture) -> Leaks:
    caplog.set_level(logging.DEBUG)  # the root logger: the connector's, httpx's and httpcore's records
    return Leaks(caplog)


@pytest.fixture
def clock(sandbox: Sandbox) -> Clock:
    return Clock(sandbox)


@pytest.fixture
def oauth(sandbox: Sandbox, clock: Clock, leaks: Leaks) -> Iterator[FortnoxOAuth]:
    client = FortnoxOAuth(
        sandbox.client_id,
        Secret(sandbox.client_secret),
        auth_base_url=sandbox.base_url,
        redirect_uri=REDIRECT,
        clock=clock,
        timeout=5,
    )
    basic = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    leaks.secret(sandbox.client_secret, basic)
    yield client
    client.close()


def consent(sandbox: Sandbox, oauth: FortnoxOAuth, scopes: Iterable[str], **flags: bool) -> str:
    """The customer's browser step, headless: the code from the redirect back to the host."""
    state = new_state()
    url = oauth.authorization_url(state, scopes, **flags)
    logging.disable(logging.CRITICAL)  # the browser is not the connector: its redirect carries the code
    try:
        answer = httpx.get(url + "&auto=1")
    finally:
        logging.disable(logging.NOTSET)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


E = TypeVar("E", bound=ConnectorError)


def expect(error: type[E], call: Callable[[], object], leaks: Leaks) -> E:
    with pytest.raises(error) as caught:
        call()
    leaks.error(caught.value)
    return caught.value


def last_two_requests_alike(wire: Wire) -> dict[str, str]:
    (m1, p1, q1), (m2, p2, q2) = wire.seen[-2:]
    assert (m1, p1, q1) == (m2, p2, q2)
    return q1


def test_authorization_code_mode(sandbox: Sandbox, oauth: FortnoxOAuth, clock: Clock, leaks: Leaks) -> None:
    store = MemoryStateStore()
    issued: list[Token] = []
    code = consent(sandbox, oauth, ALL_SCOPES)
    leaks.secret(code)
    first = connect_tenant(TENANT, oauth, store, code)
    tokens = AuthorizationCodeTokens(TENANT, oauth, store, on_refresh=lambda _t, tok: issued.append(tok))
    wire = Wire()
    with sandbox_client(sandbox, tokens, TENANT, transport=wire) as client:
        assert client.list_invoices(limit=10).total_pages > 2

        clock.advance(3600 - 120)  # inside the refresh margin: refreshed before use, no 401
        client.company_information()
        assert len(issued) == 1 and wire.seen[-1][2] == {}

        sandbox.oauth.revoke(issued[-1].access_token.reveal())  # Fortnox drops the token: 401, refresh, retry
        page = client.list_invoices(filter="unpaid", page=2, limit=5)
        assert page.current_page == 2
        assert last_two_requests_alike(wire) == {"filter": "unpaid", "limit": "5", "page": "2"}
        assert len(issued) == 2

        sandbox.revoke_consent(sandbox.tenant_ids()[0])  # the customer removes the integration
        gone = expect(ReconnectRequired, client.list_invoice_payments, leaks)
        assert gone.tenant == TENANT and "reconnect" in str(gone) and TENANT in str(gone)
        again = oauth.token_requests
        expect(ReconnectRequired, client.list_invoice_payments, leaks)
        assert oauth.token_requests == again  # a dead refresh token is not tried again
        leaks.reprs(client, tokens, store, oauth, first, *issued)
    for token in (first, *issued):
        leaks.token(token)
    leaks.check()


def test_client_credentials_mode(sandbox: Sandbox, oauth: FortnoxOAuth, clock: Clock, leaks: Leaks) -> None:
    fortnox_tenant = sandbox.tenant_ids()[0]
    issued: list[Token] = []
    tokens = ClientCredentialsTokens(
        TENANT, str(fortnox_tenant), oauth, on_refresh=lambda _t, tok: issued.append(tok)
    )
    wire = Wire()
    with sandbox_client(sandbox, tokens, TENANT, transport=wire) as client:
        assert client.company_information().database_number == fortnox_tenant
        clock.advance(3600 - 120)  # renewed shortly before expiry
        client.list_invoice_payments(limit=3)
        assert len(issued) == 2 and all(t.refresh_token is None for t in issued)

        sandbox.oauth.revoke(issued[-1].access_token.reveal())
        page = client.list_invoice_payments(page=3, limit=3)
        assert page.current_page == 3
        assert last_two_requests_alike(wire) == {"limit": "3", "page": "3"}

        sandbox.revoke_consent(fortnox_tenant)
        gone = expect(ReconnectRequired, client.list_invoice_payments, leaks)
        assert gone.tenant == TENANT and "account_type=service" in str(gone)
        leaks.reprs(client, tokens, oauth, *issued)
    for token in issued:
        leaks.token(token)
    leaks.check()


def test_host_managed_mode(sandbox: Sandbox, clock: Clock, leaks: Leaks) -> None:
    fortnox_tenant = sandbox.tenant_ids()[0]
    answer = sandbox.issue_token(fortnox_tenant)
    access, refresh = str(answer["access_token"]), str(answer["refresh_token"])
    leaks.secret(access, refresh)
    env = {
        ACCESS_TOKEN_ENV: access,
        EXPIRES_IN_ENV: "3600",
        SCOPE_ENV: "invoice,payment companyinformation",
        CLIENT_ID_ENV: sandbox.client_id,
        "PAN_SEC_FORTNOX_OAUTH_REFRESH_TOKEN": refresh,  # a host may inject more than it must: never read
    }
    injected = parse_injected_token(env, tenant=TENANT, now=clock)
    tokens = injected.provider(TENANT, clock=clock)
    with sandbox_client(sandbox, tokens, TENANT, client_id=injected.client_id) as client:
        assert client.list_invoices(limit=5).items
        clock.advance(3600)  # the host did not refresh: a clear error, and no request at all
        sent = client.requests_sent
        expired = expect(TokenExpired, client.list_invoices, leaks)
        assert client.requests_sent == sent
        assert expired.tenant == TENANT and ACCESS_TOKEN_ENV in str(expired) and "refresh" in str(expired)

        fresh = str(sandbox.issue_token(fortnox_tenant)["access_token"])
        leaks.secret(fresh)
        tokens.replace(parse_injected_token({**env, ACCESS_TOKEN_ENV: fresh}, tenant=TENANT, now=clock).token)
        assert client.list_invoices(limit=5).items
        sandbox.revoke_consent(fortnox_tenant)  # Fortnox answers 401: the host's token to replace
        rejected = expect(TokenExpired, client.list_invoices, leaks)
        assert "rejected" in str(rejected) and rejected.tenant == TENANT
        leaks.reprs(client, tokens, injected)

    for bad in (f"Bearer {access}", f"{access[:9]}\n{access[9:]}"):
        broken = expect(
            ConfigError, partial(parse_injected_token, {ACCESS_TOKEN_ENV: bad}, tenant=TENANT), leaks
        )
        assert broken.field == ACCESS_TOKEN_ENV and TENANT in str(broken)
    leaks.check()


@pytest.mark.sandbox(service_consent_all=False)
def test_the_service_account_authorize_url_enables_client_credentials(
    sandbox: Sandbox, oauth: FortnoxOAuth, leaks: Leaks
) -> None:
    fortnox_tenant = sandbox.tenant_ids()[0]
    tokens = ClientCredentialsTokens(TENANT, str(fortnox_tenant), oauth)
    with sandbox_client(sandbox, tokens, TENANT) as client:
        refused = expect(ReconnectRequired, client.company_information, leaks)
        assert refused.tenant == TENANT and "account_type=service" in str(refused)
        url = oauth.authorization_url(new_state(), ALL_SCOPES, service_account=True)
        assert parse_qs(urlsplit(url).query)["account_type"] == ["service"]
        code = consent(sandbox, oauth, ALL_SCOPES, service_account=True)
        leaks.secret(code)
        assert client.company_information().database_number == fortnox_tenant
    leaks.check()


def test_missing_licence_and_missing_scope_name_the_tenant_and_the_fix(
    sandbox: Sandbox, oauth: FortnoxOAuth, leaks: Leaks
) -> None:
    store = MemoryStateStore()
    code = consent(sandbox, oauth, ("invoice", "companyinformation"))  # the customer granted no 'payment'
    leaks.secret(code)
    leaks.token(connect_tenant(TENANT, oauth, store, code))
    client: FortnoxClient
    with sandbox_client(sandbox, AuthorizationCodeTokens(TENANT, oauth, store), TENANT) as client:
        scope = expect(MissingScope, client.list_invoice_payments, leaks)
        assert scope.tenant == TENANT and scope.code == 2000663
        assert "reconnect the tenant granting the Fortnox scope 'payment'" in str(scope)

        sandbox.set_licences(sandbox.tenant_ids()[0], ["companyinformation"])  # the company lost a licence
        licence = expect(MissingLicence, client.list_invoices, leaks)
        assert licence.tenant == TENANT and licence.code == 2001101
        assert "the company lacks the licence for this scope: the customer must add it in Fortnox" in str(
            licence
        )
        assert client.requests_sent == 2  # neither is retried
    leaks.check()


def test_a_lost_refresh_answer_ends_in_a_clear_reconnect(
    sandbox: Sandbox, oauth: FortnoxOAuth, clock: Clock, leaks: Leaks
) -> None:
    """Fortnox used the single-use refresh token but its answer was lost: nothing can recover the new one,
    so the next attempt asks the customer to reconnect (docs/oauth.md, known limits), never a loop."""
    store = MemoryStateStore()
    code = consent(sandbox, oauth, ALL_SCOPES)
    leaks.secret(code)
    leaks.token(connect_tenant(TENANT, oauth, store, code))
    tokens = AuthorizationCodeTokens(TENANT, oauth, store)
    with sandbox_client(sandbox, tokens, TENANT) as client:
        clock.advance(3600)
        sandbox.inject_fault("drop_response", count=1, path_prefix="/oauth-v1/token")
        lost = expect(AuthError, client.company_information, leaks)
        assert lost.tenant == TENANT and "could not reach" in str(lost)
        gone = expect(ReconnectRequired, client.company_information, leaks)
        assert gone.tenant == TENANT and "reconnect" in str(gone)
        sent = oauth.token_requests
        expect(ReconnectRequired, client.company_information, leaks)
        assert oauth.token_requests == sent and client.requests_sent == 0
    leaks.check()
