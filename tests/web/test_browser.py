"""A customer connects Fortnox through a link in a real browser; an operator sees the tenant's health."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, Page, expect

from fortnox_connector.runtime.web.links import ConnectGrant, Signer
from fortnox_connector.sandbox import Sandbox
from tests.web.conftest import OPERATOR_TOKEN, SIGNING_KEY, Web, screenshot_path


def approve_on_sandbox(page: Page, company: int) -> None:
    """What the customer does on Fortnox's consent page: pick the company, press "Godkänn"."""
    page.select_option("select[name=tenant]", str(company))
    page.get_by_role("button", name="Godkänn").click()


def operator_page(browser: Browser) -> Page:
    context = browser.new_context(http_credentials={"username": "operator", "password": OPERATOR_TOKEN})
    return context.new_page()


def test_a_customer_connects_through_a_link_and_the_tenant_shows_healthy(
    web: Web, sandbox: Sandbox, browser: Browser
) -> None:
    company = sandbox.tenant_ids()[0]
    page = browser.new_page()
    page.goto(web.app.connect_link("acme"))
    expect(page.locator("h1")).to_have_text("Fortnox sandbox")
    approve_on_sandbox(page, company)
    expect(page.locator("#connected")).to_have_text(f"Connected to Sandbox Företag 1 AB ({company}).")
    page.screenshot(path=screenshot_path("connected"))

    web.scheduler.run_tenant("acme")
    operator = operator_page(browser)
    operator.goto(f"{web.url}/tenants")
    row = operator.locator("tr[data-tenant=acme]")
    expect(row.locator(".status")).to_have_text("healthy")
    expect(row).to_contain_text("authorization_code")
    operator.screenshot(path=screenshot_path("tenants"), full_page=True)
    operator.goto(f"{web.url}/tenants/acme")
    expect(operator.locator("#status")).to_have_text("healthy")
    operator.screenshot(path=screenshot_path("tenant"), full_page=True)


def test_an_expired_or_tampered_link_is_refused(web: Web, browser: Browser) -> None:
    page = browser.new_page()
    link = web.app.connect_link("acme")
    tampered = re.sub(r"link=(.)", lambda m: "link=" + ("A" if m.group(1) != "A" else "B"), link)
    response = page.goto(tampered)
    assert response is not None and response.status == 403
    expect(page.locator("body")).to_contain_text("This connect link is not valid.")

    other_tenant = link.replace("/connect/acme?", "/connect/other?")
    response = page.goto(other_tenant)
    assert response is not None and response.status == 403

    old = Signer(SIGNING_KEY, clock=lambda: time.time() - 8 * 86400).connect_token(
        ConnectGrant("acme", False)
    )
    response = page.goto(f"{web.url}/connect/acme?link={old}")
    assert response is not None and response.status == 403
    expect(page.locator("body")).to_contain_text("This connect link has expired.")
    assert web.runtime.store.get_tenant("acme") is None  # nothing was made of a refused link


def test_a_revoked_tenant_shows_must_reconnect_and_its_link_reconnects_it(
    web: Web, sandbox: Sandbox, browser: Browser
) -> None:
    company = sandbox.tenant_ids()[0]
    page = browser.new_page()
    page.goto(web.app.connect_link("acme"))
    approve_on_sandbox(page, company)
    expect(page.locator("#connected")).to_be_visible()
    web.runtime.store.update_tenant("acme", display_name="Acme Åkeri AB")
    sandbox.revoke_consent(company)
    web.scheduler.run_tenant("acme")
    assert web.runtime.store.require_tenant("acme").paused

    operator = operator_page(browser)
    operator.goto(f"{web.url}/tenants/acme")
    expect(operator.locator("#status")).to_have_text("must reconnect")
    expect(operator.locator("h1")).to_contain_text("Acme Åkeri AB")
    operator.screenshot(path=screenshot_path("must-reconnect"), full_page=True)
    link = operator.locator("#reconnect-link").get_attribute("href")
    assert link is not None

    customer = browser.new_page()
    customer.goto(link)
    approve_on_sandbox(customer, company)
    expect(customer.locator("#connected")).to_be_visible()
    assert not web.runtime.store.require_tenant("acme").paused
    web.scheduler.run_tenant("acme")
    operator.reload()
    expect(operator.locator("#status")).to_have_text("healthy")


def test_the_operator_pages_refuse_a_request_without_credentials(web: Web, browser: Browser) -> None:
    anonymous = browser.new_context().request
    intruder = browser.new_context(http_credentials={"username": "operator", "password": "guess"}).request
    for path in ("/tenants", "/tenants/acme", "/metrics"):
        for client in (anonymous, intruder):
            answer = client.get(web.url + path)
            assert answer.status == 401
            assert "Basic" in answer.headers["www-authenticate"]
    assert anonymous.get(web.url + "/healthz").status == 200  # orchestrators need no credentials
