"""OAuth in the sandbox: authorize page, code, token, rotation, reuse, revoke, expiry, client credentials."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fortnox_connector.sandbox import Sandbox

REDIRECT = "http://127.0.0.1:9/callback"


def basic(sb: Sandbox, secret: str | None = None) -> dict[str, str]:
    raw = f"{sb.client_id}:{secret if secret is not None else sb.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def authorize(client: httpx.Client, sb: Sandbox, **extra: str) -> str:
    """Follow the consent form like a browser would and return the code."""
    params = {
        "client_id": sb.client_id,
        "response_type": "code",
        "state": "st-1",
        "scope": "invoice payment",
        "redirect_uri": REDIRECT,
        "access_type": "offline",
        **extra,
    }
    page = client.get("/oauth-v1/auth", params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert re.search(r'<form id="consent" method="post" action="/oauth-v1/auth">', page.text)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    assert fields["state"] == "st-1"
    answer = client.post(
        "/oauth-v1/auth", data={**fields, "tenant": str(sb.tenant_ids()[0]), "decision": "allow"}
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def test_full_flow_code_token_refresh_reuse_revoke(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url) as c:
        code = authorize(c, sandbox)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        first = c.post("/oauth-v1/token", data=form, headers=basic(sandbox))
        assert first.status_code == 200
        tok = first.json()
        assert (
            tok["token_type"] == "bearer" and tok["expires_in"] == 3600 and tok["scope"] == "invoice payment"
        )
        claims = json.loads(base64.urlsafe_b64decode(tok["access_token"].split(".")[1] + "=="))
        assert claims["tenantId"] == sandbox.tenant_ids()[0]

        again = c.post("/oauth-v1/token", data=form, headers=basic(sandbox))
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # codes are single use

        bearer = {"Authorization": f"Bearer {tok['access_token']}"}
        assert c.get("/3/invoicepayments", headers=bearer).status_code == 200

        refresh = {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]}
        rotated = c.post("/oauth-v1/token", data=refresh, headers=basic(sandbox))
        assert rotated.status_code == 200
        assert rotated.json()["refresh_token"] != tok["refresh_token"]

        reused = c.post("/oauth-v1/token", data=refresh, headers=basic(sandbox))
        assert reused.status_code == 400
        assert reused.headers["content-type"].startswith("text/html")
        assert reused.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}

        new_access = rotated.json()["access_token"]
        revoke = c.post(
            "/oauth-v1/revoke",
            data={"token_type_hint": "refresh_token", "token": rotated.json()["refresh_token"]},
            headers=basic(sandbox),
        )
        assert revoke.json() == {"revoked": True}
        dead = {"grant_type": "refresh_token", "refresh_token": rotated.json()["refresh_token"]}
        assert c.post("/oauth-v1/token", data=dead, headers=basic(sandbox)).status_code == 400
        c.post("/oauth-v1/revoke", data={"token": new_access}, headers=basic(sandbox))
        gone = c.get("/3/invoicepayments", headers={"Authorization": f"Bearer {new_access}"})
        assert gone.status_code == 401 and gone.json() == {"message": "unauthorized"}


def test_headless_auto_consent_and_code_expiry(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url) as c:
        params = {"client_id": sandbox.client_id, "state": "s", "scope": "payment", "redirect_uri": REDIRECT}
        r = c.get("/oauth-v1/auth", params={**params, "auto": "1"})
        assert r.status_code == 302
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        sandbox.advance(601)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        late = c.post("/oauth-v1/token", data=form, headers=basic(sandbox))
        assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_access_token_expires_on_the_sandbox_clock(sandbox: Sandbox) -> None:
    tok = sandbox.issue_token(sandbox.tenant_ids()[0])
    with httpx.Client(
        base_url=sandbox.base_url, headers={"Authorization": f"Bearer {tok['access_token']}"}
    ) as c:
        assert c.get("/3/companyinformation").status_code == 200
        sandbox.advance(3599)
        assert c.get("/3/companyinformation").status_code == 200
        sandbox.advance(1)
        r = c.get("/3/companyinformation")
    assert r.status_code == 401 and r.json() == {"message": "unauthorized"}


def test_wrong_client_secret_is_invalid_client(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url) as c:
        refresh = c.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": "x"},
            headers=basic(sandbox, "no"),
        )
        cc = c.post(
            "/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers={**basic(sandbox, "no"), "TenantId": str(sandbox.tenant_ids()[0])},
        )
    assert refresh.status_code == 401 and refresh.headers["content-type"].startswith("text/plain")
    assert cc.status_code == 400 and cc.headers["content-type"].startswith("text/html")
    for r in (refresh, cc):
        assert r.json() == {
            "error": "invalid_client",
            "error_description": "The client credentials are invalid",
        }


def test_client_credentials_needs_consent_and_has_no_refresh_token(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids()[1]
    with httpx.Client(base_url=sandbox.base_url) as c:
        ok = c.post(
            "/oauth-v1/token",
            data={"grant_type": "client_credentials", "scope": "payment"},
            headers={**basic(sandbox), "TenantId": str(tenant)},
        )
        assert ok.status_code == 200
        assert "refresh_token" not in ok.json() and ok.json()["scope"] == "payment"
        info = c.get("/3/invoicepayments", headers={"Authorization": f"Bearer {ok.json()['access_token']}"})
        assert info.status_code == 200
        sandbox.set_service_consent(tenant, False)
        refused = c.post(
            "/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers={**basic(sandbox), "TenantId": str(tenant)},
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        unknown = c.post(
            "/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers={**basic(sandbox), "TenantId": "9"},
        )
        assert unknown.status_code == 400


@pytest.mark.sandbox(service_consent_all=False)
def test_service_consent_via_authorize_enables_client_credentials(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids()[0]
    headers = {**basic(sandbox), "TenantId": str(tenant)}
    with httpx.Client(base_url=sandbox.base_url) as c:
        assert (
            c.post("/oauth-v1/token", data={"grant_type": "client_credentials"}, headers=headers).status_code
            == 400
        )
        authorize(c, sandbox, account_type="service")
        r = c.post("/oauth-v1/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert r.status_code == 200 and r.json()["scope"] == "invoice payment"


def test_missing_licence_fails_consent(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids()[0]
    sandbox.set_licences(tenant, ["invoice"])
    with httpx.Client(base_url=sandbox.base_url) as c:
        r = c.get(
            "/oauth-v1/auth",
            params={
                "client_id": sandbox.client_id,
                "state": "s",
                "scope": "payment",
                "redirect_uri": REDIRECT,
                "auto": "1",
            },
        )
    assert parse_qs(urlsplit(r.headers["location"]).query)["error"] == ["error_missing_license"]


def test_scope_and_licence_errors(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids()[0]
    only_invoice = sandbox.issue_token(tenant, ("invoice",))["access_token"]
    with httpx.Client(base_url=sandbox.base_url) as c:
        r = c.get("/3/invoicepayments", headers={"Authorization": f"Bearer {only_invoice}"})
        assert r.status_code == 403 and r.json()["ErrorInformation"]["Code"] == 2000663
        sandbox.set_licences(tenant, ["payment"])
        r = c.get("/3/invoices", headers={"Authorization": f"Bearer {only_invoice}"})
        assert r.status_code == 403 and r.json()["ErrorInformation"]["Code"] == 2001101


def test_unknown_bearer_is_unauthorized(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url) as c:
        assert c.get("/3/invoices", headers={"Authorization": "Bearer nope"}).json() == {
            "message": "unauthorized"
        }
        assert c.get("/3/invoices").status_code == 401
