"""The connect flow's edges: the loopback listener, the state check, Fortnox's refusals, service accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fortnox_connector.errors import AuthError, ConfigError
from fortnox_connector.runtime.browser import approve
from fortnox_connector.runtime.connect import LoopbackReceiver, connect
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import run_tenant_trigger
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import PAGES, ListSink, make_runtime


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path) as rt:
        yield rt


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_the_listener_takes_the_first_redirect_and_answers_the_browser() -> None:
    with LoopbackReceiver() as receiver:
        assert receiver.redirect_uri.startswith("http://127.0.0.1:") and receiver.redirect_uri.endswith(
            "/callback"
        )
        base = receiver.redirect_uri.rsplit("/", 1)[0]
        assert httpx.get(base + "/favicon.ico").status_code == 404  # other paths are not the redirect
        page = httpx.get(receiver.redirect_uri, params={"code": "the-code", "state": "s1"})
        assert page.status_code == 200 and "close this window" in page.text
        httpx.get(receiver.redirect_uri, params={"code": "later", "state": "s2"})
        callback = receiver.wait(5)
    assert callback is not None and callback.state == "s1"
    assert callback.code is not None and callback.code.reveal() == "the-code"
    assert "the-code" not in repr(callback)


def test_a_redirect_with_another_state_is_refused(runtime: Runtime, sandbox: Sandbox) -> None:
    def forged(url: str) -> None:
        query = parse_qs(urlsplit(url).query)
        redirect = query["redirect_uri"][0]
        httpx.get(redirect, params={"code": "stolen", "state": "not-the-one-we-sent"})

    with pytest.raises(AuthError, match="state does not match") as info:
        connect(runtime, "acme", open_url=forged, timeout=5)
    assert info.value.tenant == "acme"
    assert runtime.store.load_token("acme") is None
    assert sandbox.stats.token_requests == 0  # the code was never sent to the token endpoint


def test_a_missing_licence_says_the_customer_must_add_it(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    sandbox.set_licences(company, ("invoice", "payment", "companyinformation"))  # no "settings"
    with pytest.raises(AuthError, match="error_missing_license") as info:
        connect(runtime, "acme", open_url=lambda url: approve(url, company=company), timeout=5)
    assert info.value.hint is not None and "licence" in info.value.hint


def test_no_answer_from_the_browser_says_what_to_do(runtime: Runtime) -> None:
    shown: list[str] = []
    with pytest.raises(AuthError, match="no answer from the browser") as info:
        connect(runtime, "acme", open_url=shown.append, timeout=0)
    assert shown and "/oauth-v1/auth?" in shown[0] and "state=" in shown[0] and "scope=" in shown[0]
    assert info.value.hint is not None and "printed URL" in info.value.hint


def test_reconnecting_resumes_a_paused_tenant_and_replaces_its_token(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    company = sandbox.tenant_ids()[1]
    first = connect(runtime, "acme", open_url=lambda url: approve(url, company=company), timeout=5)
    assert first.fortnox_tenant_id == str(company)
    old = runtime.store.load_token("acme")
    runtime.store.pause_tenant("acme", "must reconnect")
    connect(runtime, "acme", open_url=lambda url: approve(url, company=company), timeout=5)
    record = runtime.store.require_tenant("acme")
    assert not record.paused and record.fortnox_tenant_id == str(company)
    new = runtime.store.load_token("acme")
    assert old is not None and new is not None and new.refresh_token != old.refresh_token


def test_service_account_consent_keeps_no_refresh_token(runtime: Runtime, sandbox: Sandbox) -> None:
    sandbox.options.service_consent_all = False
    company = sandbox.tenant_ids()[2]
    sandbox.set_service_consent(company, False)
    done = connect(
        runtime, "svc", open_url=lambda url: approve(url, company=company), service_account=True, timeout=5
    )
    assert done.auth_mode == "client_credentials" and done.fortnox_tenant_id == str(company)
    assert runtime.store.load_token("svc") is None  # client credentials: asked for when needed
    with pytest.raises(ConfigError, match="client_credentials"):
        connect(runtime, "svc", open_url=lambda url: approve(url, company=company), timeout=5)


def test_a_registered_redirect_elsewhere_is_pasted_back(sandbox: Sandbox, tmp_path: Path) -> None:
    """`connect --redirect-uri`: the browser lands on the app's own page; the user pastes that address."""
    from click.testing import CliRunner

    from fortnox_connector.fortnox.pacing import PacerRegistry
    from fortnox_connector.runtime.cli import App, cli
    from tests.runtime.runtime_support import sandbox_env

    landed: list[str] = []
    company = sandbox.tenant_ids()[0]
    app = App(
        env=sandbox_env(sandbox, tmp_path),
        open_url=lambda url: landed.append(approve(url, company=company, follow=False)),
        pasted_redirect=lambda: landed[0],
        pacers=PacerRegistry(),
        configure_logs=False,
    )
    registered = "https://integrations.example.com/fortnox/callback"
    result = CliRunner().invoke(
        cli, ["connect", "acme", "--redirect-uri", registered, "--json"], obj=app, catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    assert landed[0].startswith(registered + "?code=")
    assert '"fortnox_tenant_id": "100001"' in result.stdout


def test_reconnecting_to_another_company_is_refused_and_keeps_the_old_connection(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    first, other = sandbox.tenant_ids()[0], sandbox.tenant_ids()[1]
    connect(runtime, "acme", open_url=lambda url: approve(url, company=first), timeout=5)
    runtime.store.commit_cursor("acme", "payment_received", "cursor-of-the-first-company")
    runtime.store.pause_tenant("acme", "must reconnect")
    old = runtime.store.load_token("acme")
    with pytest.raises(ConfigError, match="another Fortnox company") as info:
        connect(runtime, "acme", open_url=lambda url: approve(url, company=other), timeout=5)
    assert info.value.tenant == "acme"
    assert info.value.hint is not None and "fortnox-connector connect acme" in info.value.hint
    record = runtime.store.require_tenant("acme")
    assert record.fortnox_tenant_id == str(first) and record.paused  # still bound to the first company
    kept = runtime.store.load_token("acme")
    assert old is not None and kept is not None and kept.refresh_token == old.refresh_token


def test_observers_hear_of_the_token_a_connect_stores(sandbox: Sandbox, tmp_path: Path) -> None:
    from fortnox_connector.contract.state import Token
    from fortnox_connector.runtime.catalog import StaticCatalog
    from tests.runtime.runtime_support import fortnox_with

    class Observed(StaticCatalog):
        def __init__(self) -> None:
            super().__init__(fortnox_with().connector)
            self.tokens: list[tuple[str, Token]] = []

        def token_refreshed(self, tenant: str, token: Token) -> None:
            self.tokens.append((tenant, token))

    catalog = Observed()
    company = sandbox.tenant_ids()[0]
    with make_runtime(sandbox, tmp_path, catalog=catalog) as rt:
        connect(rt, "acme", open_url=lambda url: approve(url, company=company), timeout=5)
        stored = rt.store.load_token("acme")
    assert stored is not None
    assert [(t, tok.expires_at) for t, tok in catalog.tokens] == [("acme", stored.expires_at)]


def test_a_seeded_refresh_token_of_another_company_is_refused_and_not_kept(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    from fortnox_connector.runtime.connect import adopt_connection
    from fortnox_connector.secrets import Secret

    first, other = sandbox.tenant_ids()[0], sandbox.tenant_ids()[1]
    connect(runtime, "acme", open_url=lambda url: approve(url, company=first), timeout=5)
    runtime.store.delete_token("acme")  # e.g. consent revoked: the tenant waits for a new connection
    seed = Secret(str(sandbox.issue_token(other)["refresh_token"]))
    with pytest.raises(ConfigError, match="another Fortnox company") as info:
        adopt_connection(runtime, "acme", seed)
    assert info.value.tenant == "acme"
    assert runtime.store.load_token("acme") is None  # never polled with the other company's token
    assert runtime.store.require_tenant("acme").fortnox_tenant_id == str(first)


def test_service_account_runs_of_one_process_share_one_token(runtime: Runtime, sandbox: Sandbox) -> None:
    """An idle night asked for a new service-account token on every trigger run; now once per lifetime."""
    company = sandbox.tenant_ids()[1]
    connect(
        runtime, "svc", open_url=lambda url: approve(url, company=company), service_account=True, timeout=5
    )
    before = sandbox.stats.token_requests
    for _ in range(4):
        result = run_tenant_trigger(runtime, "svc", runtime.catalog.trigger(PAGES), ListSink())
        assert result.error is None
    assert sandbox.stats.token_requests - before <= 1
