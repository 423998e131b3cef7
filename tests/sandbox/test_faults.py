"""Rate limiting, injected faults, error key casing, stats and the control API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from fortnox_connector.sandbox import Sandbox


@pytest.fixture
def api(sandbox: Sandbox, sandbox_token: Callable[..., str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox_token()}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as client:
        yield client


@pytest.mark.sandbox(rate_limit=True)
def test_26th_request_in_a_window_is_429(
    sandbox: Sandbox, api: httpx.Client, sandbox_token: Callable[..., str]
) -> None:
    codes = [api.get("/3/companyinformation").status_code for _ in range(26)]
    assert codes[:25] == [200] * 25 and codes[25] == 429
    assert "retry-after" not in {k.lower() for k in api.get("/3/companyinformation").headers}
    assert sandbox.stats.rate_limited == 2
    other = sandbox_token(sandbox.tenant_ids()[1])
    assert api.get("/3/companyinformation", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    sandbox.advance_wall(5.0)
    assert api.get("/3/companyinformation").status_code == 200


@pytest.mark.sandbox(rate_limit=True, retry_after=3, rate_limit_requests=2)
def test_retry_after_option(api: httpx.Client) -> None:
    api.get("/3/companyinformation")
    api.get("/3/companyinformation")
    r = api.get("/3/companyinformation")
    assert r.status_code == 429 and r.headers["retry-after"] == "3"


def test_429_burst_then_recovery(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.inject_fault("429", count=2, path_prefix="/3/invoicepayments")
    assert api.get("/3/companyinformation").status_code == 200  # other paths untouched
    codes = [api.get("/3/invoicepayments").status_code for _ in range(3)]
    assert codes == [429, 429, 200]
    assert sandbox.stats.rate_limited == 2


def test_500_and_503(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.inject_fault("500", count=1)
    sandbox.inject_fault("503", count=1)
    first = api.get("/3/invoices")
    assert first.status_code == 500 and first.json()["ErrorInformation"]["Code"] == 1000003
    second = api.get("/3/invoices")
    assert second.status_code == 503 and second.headers["content-type"].startswith("text/html")
    assert api.get("/3/invoices").status_code == 200


def test_fault_by_method_only(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.inject_fault("500", count=1, method="POST")
    assert api.get("/3/invoicepayments").status_code == 200
    assert api.post("/3/invoicepayments", json={"InvoicePayment": {"InvoiceNumber": 1}}).status_code == 500


def test_malformed_json(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.inject_fault("malformed", count=1)
    r = api.get("/3/invoicepayments")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


def test_dropped_connection(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.inject_fault("drop", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/3/invoicepayments")
    assert api.get("/3/invoicepayments").status_code == 200


def test_slow_response_times_out_the_client(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.inject_fault("slow", count=1, delay=2.0)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/3/invoicepayments", timeout=0.05)


def test_fraction_faults_are_reproducible(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.inject_fault("503", fraction=0.5)
    codes = [api.get("/3/companyinformation").status_code for _ in range(40)]
    assert 5 < codes.count(503) < 35
    sandbox.clear_faults()
    assert api.get("/3/companyinformation").status_code == 200


def test_unknown_fault_kind_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.inject_fault("teapot", count=1)


@pytest.mark.sandbox(error_key_case="lower")
def test_lowercase_error_keys(api: httpx.Client) -> None:
    r = api.get("/3/invoices/424242")
    assert r.json() == {
        "ErrorInformation": {"error": 1, "message": "Kan inte hitta fakturan.", "code": 2000434}
    }


def test_stats_count_requests_and_token_calls(sandbox: Sandbox, api: httpx.Client) -> None:
    api.get("/3/invoices")
    api.get("/3/invoices")
    api.get("/3/invoicepayments")
    httpx.post(
        f"{sandbox.base_url}/oauth-v1/token", data={"grant_type": "refresh_token", "refresh_token": "x"}
    )
    assert sandbox.stats.requests == 4
    assert sandbox.stats.by_path["/3/invoices"] == 2
    assert sandbox.stats.token_requests == 1


def test_control_api(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url) as c:
        tenants = c.get("/_sandbox/tenants").json()
        tid = tenants[0]["id"]
        assert [t["id"] for t in tenants] == sandbox.tenant_ids()
        inv = c.post(f"/_sandbox/tenants/{tid}/invoices", json={"Total": "500", "InvoiceDate": "2026-01-01"})
        assert inv.status_code == 201
        doc = inv.json()["DocumentNumber"]
        pay = c.post(
            f"/_sandbox/tenants/{tid}/payments", json={"InvoiceNumber": doc, "AmountCurrency": "500"}
        )
        assert pay.status_code == 201
        number = pay.json()["Number"]
        assert c.post(f"/_sandbox/tenants/{tid}/payments/{number}/book").json()["Booked"] is True
        token = c.post(f"/_sandbox/tenants/{tid}/tokens", json={"scopes": ["payment"]}).json()
        assert token["scope"] == "payment" and token["refresh_token"]
        before = c.get("/_sandbox/clock").json()["now"]
        after = c.post("/_sandbox/clock", json={"advance": 60}).json()["now"]
        assert before < after
        c.post("/_sandbox/faults", json={"kind": "503", "count": 1})
        assert c.get("/_sandbox/faults").json()["faults"][0]["kind"] == "503"
        assert c.delete("/_sandbox/faults").json() == {"faults": []}
        assert c.post(f"/_sandbox/tenants/{tid}/seed", json={"payments": 10}).json() == {"seeded": 10}
        assert c.get("/_sandbox/stats").json()["requests"] == 0  # control calls are not counted
        bad = c.post(
            f"/_sandbox/tenants/{tid}/payments", json={"InvoiceNumber": doc, "PaymentDate": "2020-01-01"}
        )
        assert bad.status_code == 400 and "2000630" in bad.json()["error"]
        assert c.post("/_sandbox/reset").json() == {"reset": True}
        assert c.get("/_sandbox/tenants").json()[0]["invoices"] == tenants[0]["invoices"]


@pytest.mark.sandbox(rate_limit=True, rate_limit_requests=3)
def test_the_window_is_per_client_and_tenant(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    other_app = sandbox.oauth.issue(
        tenant, ("companyinformation",), "other-client", sandbox.now(), refresh=False
    )
    codes = [api.get("/3/companyinformation").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    headers = {"Authorization": f"Bearer {other_app['access_token']}"}
    assert api.get("/3/companyinformation", headers=headers).status_code == 200  # another app's budget
