"""``web --demo``: the operator's pages on a local sandbox with tenants in every state (README screenshot)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from fortnox_connector.runtime.web.demo import web_demo
from tests.web.conftest import screenshot_path

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])


def test_the_web_demo_shows_healthy_and_lapsed_tenants(browser: Browser) -> None:
    with web_demo("127.0.0.1", 0) as demo:
        assert httpx.get(demo.new_tenant_link, follow_redirects=False).status_code == 303
        context = browser.new_context(
            http_credentials={"username": "operator", "password": demo.operator_token.reveal()},
            viewport={"width": 1280, "height": 560},
        )
        page = context.new_page()
        page.goto(f"{demo.url}/tenants")
        expect(page.locator("tr[data-tenant=acme] .status")).to_have_text("healthy")
        expect(page.locator("tr[data-tenant=bolaget] .status")).to_have_text("healthy")
        expect(page.locator("tr[data-tenant=lapsed] .status")).to_have_text("must reconnect")
        expect(page.locator("tr[data-tenant=acme]")).to_contain_text("Acme Åkeri AB")
        page.screenshot(path=screenshot_path("operator"), full_page=True)
