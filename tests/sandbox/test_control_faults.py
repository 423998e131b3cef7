"""Every fault kind injected through the HTTP control API (``POST /_sandbox/faults``), as a raw HTTP client
and as the connector's FortnoxClient sees it, over loopback. The client's clock is fake: no real waiting."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fortnox_connector.fortnox.errors import (
    AmbiguousWrite,
    FortnoxUnavailable,
    MalformedResponse,
    RateLimited,
)
from fortnox_connector.sandbox import Sandbox
from tests.fortnox.live import Bearer, SleepClock, sandbox_client


@pytest.fixture
def control(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.base_url}/_sandbox") as c:
        yield c


@pytest.fixture
def api(sandbox: Sandbox, sandbox_token: Callable[..., str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {sandbox_token()}"}) as c:
        yield c


def inject(control: httpx.Client, **rule: Any) -> list[dict[str, Any]]:
    answer = control.post("/faults", json=rule)
    assert answer.status_code == 200, answer.text
    pending: list[dict[str, Any]] = answer.json()["faults"]
    return pending


def test_a_429_burst_then_recovery(control: httpx.Client, api: httpx.Client, sandbox: Sandbox) -> None:
    inject(control, kind="429", count=3, path_prefix="/3/invoices")
    codes = [api.get("/3/invoices").status_code for _ in range(4)]
    assert codes == [429, 429, 429, 200]
    assert control.get("/stats").json()["rate_limited"] == 3
    assert control.get("/faults").json() == {"faults": []}  # a count rule expires after its hits


def test_the_client_waits_out_a_429_burst(
    control: httpx.Client, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    inject(control, kind="429", count=2, path_prefix="/3/invoices")
    clock = SleepClock()
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant), clock=clock) as client:
        page = client.list_invoices()
        assert page.items and client.throttled_responses == 2
    assert sum(clock.slept) >= 10  # at least one 5-second window per 429 (no Retry-After sent)


def test_a_429_burst_longer_than_the_retries_is_rate_limited(
    control: httpx.Client, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    inject(control, kind="429", count=5)
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    with (
        sandbox_client(sandbox, Bearer(token), str(sandbox_tenant), max_retries=2) as client,
        pytest.raises(RateLimited) as caught,
    ):
        client.company_information()
    assert caught.value.tenant == str(sandbox_tenant) and "25 requests per 5 s" in str(caught.value)


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_then_recovery(control: httpx.Client, api: httpx.Client, status: int) -> None:
    inject(control, kind=str(status), count=1)
    first = api.get("/3/invoicepayments")
    assert first.status_code == status
    assert api.get("/3/invoicepayments").status_code == 200


@pytest.mark.parametrize("status", [500, 503])
def test_the_client_retries_a_get_after_5xx_and_gives_up_when_it_persists(
    control: httpx.Client, sandbox: Sandbox, sandbox_tenant: int, status: int
) -> None:
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    inject(control, kind=str(status), count=1)
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant)) as client:
        assert client.list_invoice_payments().items
        assert client.requests_sent == 2
    inject(control, kind=str(status), count=10)
    with (
        sandbox_client(sandbox, Bearer(token), str(sandbox_tenant), max_retries=1) as client,
        pytest.raises(FortnoxUnavailable) as caught,
    ):
        client.list_invoice_payments()
    assert caught.value.status == status and caught.value.tenant == str(sandbox_tenant)


def test_a_5xx_on_a_post_is_ambiguous_and_not_repeated(
    control: httpx.Client, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    inv = sandbox.add_invoice(sandbox_tenant, Total="100", InvoiceDate="2026-01-01")
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    inject(control, kind="500", count=1, method="POST")
    client = sandbox_client(sandbox, Bearer(token), str(sandbox_tenant))
    with client, pytest.raises(AmbiguousWrite):
        client.create_invoice_payment({"InvoiceNumber": int(inv["DocumentNumber"]), "Amount": 100})
    assert client.requests_sent == 1


def test_a_slow_answer_times_the_client_out_and_a_get_is_retried(
    control: httpx.Client, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    inject(control, kind="slow", count=1, delay=30)
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    raw = httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"})
    with raw, pytest.raises(httpx.ReadTimeout):
        raw.get("/3/companyinformation", timeout=0.05)
    inject(control, kind="slow", count=1, delay=30)
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant), timeout=0.25) as client:
        assert client.company_information().database_number == sandbox_tenant
        assert client.requests_sent == 2


def test_malformed_json(
    control: httpx.Client, api: httpx.Client, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    inject(control, kind="malformed", count=1)
    answer = api.get("/3/invoicepayments")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)
    inject(control, kind="malformed", count=1)
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant)) as client:
        client.list_invoice_payments()  # one answer cut short: the client asks again (a GET is safe)
        inject(control, kind="malformed", count=2)
        with pytest.raises(MalformedResponse) as caught:
            client.list_invoice_payments()  # twice in a row: refused
    assert "not JSON" in str(caught.value) and caught.value.tenant == str(sandbox_tenant)


def test_a_dropped_connection_before_the_answer(
    control: httpx.Client, api: httpx.Client, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    inject(control, kind="drop", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/3/invoices")
    assert api.get("/3/invoices").status_code == 200
    inject(control, kind="drop", count=1)
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant)) as client:
        assert client.list_invoices().items  # a GET is retried
        assert client.requests_sent == 2


def test_a_dropped_post_is_ambiguous_and_may_or_may_not_be_done(
    control: httpx.Client, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    """``drop`` loses the request (nothing stored); ``drop_response`` loses only the answer (stored)."""
    inv = sandbox.add_invoice(sandbox_tenant, Total="300", InvoiceDate="2026-01-01")
    doc = int(inv["DocumentNumber"])
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])

    def stored() -> int:
        return sum(1 for p in sandbox.payments(sandbox_tenant) if int(p["InvoiceNumber"]) == doc)

    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant)) as client:
        for kind, after in (("drop", 0), ("drop_response", 1)):
            inject(control, kind=kind, count=1, method="POST", path_prefix="/3/invoicepayments")
            with pytest.raises(AmbiguousWrite, match="may or may not"):
                client.create_invoice_payment({"InvoiceNumber": doc, "Amount": 100})
            assert stored() == after
        assert client.requests_sent == 2  # never re-posted


def test_a_fraction_rule_stays_until_cleared(control: httpx.Client, api: httpx.Client) -> None:
    [rule] = inject(control, kind="503", fraction=0.5, path_prefix="/3/companyinformation")
    assert rule["fraction"] == 0.5 and rule["count"] is None
    codes = [api.get("/3/companyinformation").status_code for _ in range(30)]
    assert {200, 503} == set(codes)
    assert control.delete("/faults").json() == {"faults": []}
    assert api.get("/3/companyinformation").status_code == 200


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"kind": "teapot", "count": 1}, "unknown fault kind"),
        ({"kind": "500", "count": "two"}, "count must be a whole number"),
        ({"kind": "500", "count": 0}, "count must be a whole number"),
        ({"kind": "500", "fraction": 1.5}, "fraction must be a number above 0"),
        ({"kind": "slow", "count": 1, "delay": -1}, "delay must be"),
        ({"kind": "500", "count": 1, "fraction": 0.5}, "exactly one of count or fraction"),
        ({"count": 1}, "kind"),
    ],
)
def test_a_bad_fault_rule_is_refused(control: httpx.Client, rule: dict[str, Any], says: str) -> None:
    answer = control.post("/faults", json=rule)
    assert answer.status_code == 400 and says in answer.json()["error"]
    assert control.get("/faults").json() == {"faults": []}


def test_faults_never_touch_the_control_api_or_oauth_by_default(
    control: httpx.Client, sandbox: Sandbox
) -> None:
    inject(control, kind="500", count=5)
    assert control.get("/tenants").status_code == 200
    token = httpx.post(
        f"{sandbox.base_url}/oauth-v1/token",
        data={"grant_type": "client_credentials"},
        headers={"TenantId": str(sandbox.tenant_ids()[0])},
        auth=(sandbox.client_id, sandbox.client_secret),
    )
    assert token.status_code == 200
    assert len(control.get("/faults").json()["faults"]) == 1


def test_revoking_a_tenants_consent_kills_its_tokens_only(control: httpx.Client, sandbox: Sandbox) -> None:
    first, second = sandbox.tenant_ids()[:2]
    mine = sandbox.issue_token(first)
    theirs = sandbox.issue_token(second)
    assert control.post(f"/tenants/{first}/revoke").json() == {"revoked": 2}

    def status(token: object) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.get(f"{sandbox.base_url}/3/companyinformation", headers=headers).status_code

    assert status(mine["access_token"]) == 401 and status(theirs["access_token"]) == 200
    refresh = httpx.post(
        f"{sandbox.base_url}/oauth-v1/token",
        data={"grant_type": "refresh_token", "refresh_token": str(mine["refresh_token"])},
        auth=(sandbox.client_id, sandbox.client_secret),
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert [t["service_consent"] for t in control.get("/tenants").json()][:2] == [False, True]
