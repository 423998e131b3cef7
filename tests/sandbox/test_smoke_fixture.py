"""The shared fixtures give a working sandbox and token."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from fortnox_connector.sandbox import Sandbox


def test_fixture_serves_company_information(sandbox: Sandbox, sandbox_token: Callable[..., str]) -> None:
    tenant = sandbox.tenant_ids()[0]
    with httpx.Client(base_url=sandbox.base_url) as client:
        r = client.get("/3/companyinformation", headers={"Authorization": f"Bearer {sandbox_token()}"})
    assert r.status_code == 200
    assert r.json()["CompanyInformation"]["DatabaseNumber"] == tenant
