"""The web app's rules without a browser: CSRF, operator closed by default, state binding, other company."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from fortnox_connector.runtime.web import create_app
from fortnox_connector.runtime.web.format import money
from fortnox_connector.runtime.web.server import WebServer
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import add_connected
from tests.web.conftest import OPERATOR_TOKEN, Web, web_settings

AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def csrf_of(web: Web, tenant: str) -> str:
    page = httpx.get(f"{web.url}/tenants/{tenant}", headers=AUTH)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def consent(client: httpx.Client, link: str, company: int, **extra: str) -> httpx.Response:
    """Follow a connect link to the sandbox's consent and approve it headlessly (its ``auto`` path)."""
    to_fortnox = client.get(link)
    assert to_fortnox.status_code == 303
    authorize = to_fortnox.headers["location"]
    params = {"auto": "1", "tenant": str(company), **extra}
    to_callback = client.get(f"{authorize}&{urlencode(params)}")
    assert to_callback.status_code == 302
    return client.get(to_callback.headers["location"])


def test_run_now_pause_and_resume_need_the_forms_csrf_token(web: Web, sandbox: Sandbox) -> None:
    add_connected(web.runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    token = csrf_of(web, "acme")
    forged = httpx.post(f"{web.url}/tenants/acme/run", data={"csrf": "forged"}, headers=AUTH)
    assert forged.status_code == 403
    assert web.runtime.store.list_runs("acme") == []

    ran = httpx.post(f"{web.url}/tenants/acme/run", data={"csrf": token}, headers=AUTH)
    assert ran.status_code == 303
    assert "Run%20started" in ran.headers["location"]
    assert web.ran.wait(60)  # the run goes on after the answer; it must end before the sandbox does
    assert [r.trigger for r in web.runtime.store.list_runs("acme")] == ["invoice_paid", "payment_received"]
    paused = httpx.post(f"{web.url}/tenants/acme/pause", data={"csrf": token}, headers=AUTH)
    assert paused.status_code == 303
    assert web.runtime.store.require_tenant("acme").paused_reason == "paused by an operator"
    httpx.post(f"{web.url}/tenants/acme/resume", data={"csrf": token}, headers=AUTH)
    assert not web.runtime.store.require_tenant("acme").paused


def test_operator_pages_are_closed_when_no_operator_token_is_set(web: Web) -> None:
    server = WebServer("127.0.0.1", 0)
    with server.start(create_app(web.runtime, web_settings(server.url, operator_token=None))):
        for path in ("/tenants", "/metrics"):
            answer = httpx.get(server.url + path, headers=AUTH)
            assert answer.status_code == 403
            assert "FORTNOX_CONNECTOR_WEB_TOKEN" in answer.text


def test_a_callback_not_started_in_this_browser_is_refused(web: Web, sandbox: Sandbox) -> None:
    with httpx.Client() as customer, httpx.Client() as attacker:
        to_fortnox = customer.get(web.app.connect_link("acme"))
        state = parse_qs(urlsplit(to_fortnox.headers["location"]).query)["state"][0]
        forged = attacker.get(f"{web.url}/oauth/callback", params={"code": "stolen", "state": state})
        assert forged.status_code == 400
        assert "does not belong to a connect started in this browser" in forged.text
        wrong_state = customer.get(f"{web.url}/oauth/callback", params={"code": "x", "state": "other"})
        assert wrong_state.status_code == 400
    assert web.runtime.store.get_tenant("acme") is None


def test_a_denied_consent_says_so_and_stores_nothing(web: Web, sandbox: Sandbox) -> None:
    with httpx.Client() as customer:
        page = consent(customer, web.app.connect_link("acme"), sandbox.tenant_ids()[0], decision="deny")
    assert page.status_code == 400
    assert "Fortnox did not grant access (access_denied)" in page.text
    assert web.runtime.store.load_token("acme") is None


def test_a_consent_for_another_company_is_refused_with_the_rebind_instruction(
    web: Web, sandbox: Sandbox
) -> None:
    first, second = sandbox.tenant_ids()[:2]
    with httpx.Client() as customer:
        assert consent(customer, web.app.connect_link("acme"), first).status_code == 200
        before = web.runtime.store.load_token("acme")
        page = consent(customer, web.app.connect_link("acme"), second)
    assert page.status_code == 400
    assert f"another Fortnox company (DatabaseNumber {second})" in page.text
    assert "tenants remove acme" in page.text
    assert web.runtime.store.load_token("acme") == before


def test_a_service_account_link_connects_by_client_credentials(web: Web, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    with httpx.Client() as customer:
        page = consent(customer, web.app.connect_link("svc", service_account=True), company)
    assert page.status_code == 200
    assert f"Connected to Sandbox Företag 1 AB ({company})" in page.text
    record = web.runtime.store.require_tenant("svc")
    assert (record.auth_mode, record.fortnox_tenant_id) == ("client_credentials", str(company))


@pytest.mark.parametrize(
    ("value", "shown"),
    [("15388.1", "15\u00a0388,10"), ("-0.5", "-0,50"), ("1000000", "1\u00a0000\u00a0000,00"), ("x", "x")],
)
def test_amounts_are_written_the_swedish_way(value: str, shown: str) -> None:
    assert money(value) == shown
