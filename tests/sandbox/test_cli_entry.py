"""``run_sandbox`` prints where it listens and the demo client, serves, and stops when asked."""

from __future__ import annotations

import threading

import httpx
import pytest

from fortnox_connector.sandbox import run_sandbox


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_run_sandbox_serves_until_stopped() -> None:
    lines: list[str] = []
    ready = threading.Event()
    stop = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        if line.strip().startswith("tenants:"):
            ready.set()

    worker = threading.Thread(target=run_sandbox, kwargs={"port": 0, "out": out, "stop": stop}, daemon=True)
    worker.start()
    assert ready.wait(10)
    url = lines[0].rsplit(" ", 1)[-1]
    assert url.startswith("http://127.0.0.1:")
    assert any("sandbox-client" in line and "sandbox-secret" in line for line in lines)
    tenants = httpx.get(f"{url}/_sandbox/tenants").json()
    assert len(tenants) == 3
    stop.set()
    worker.join(10)
    assert not worker.is_alive()


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_the_client_and_token_life_can_be_set() -> None:
    lines: list[str] = []
    ready = threading.Event()
    stop = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        if line.strip().startswith("tenants:"):
            ready.set()

    kwargs = {"port": 0, "out": out, "stop": stop, "client_id": "my-app", "client_secret": "my-secret"}
    worker = threading.Thread(target=run_sandbox, kwargs={**kwargs, "token_ttl": 60}, daemon=True)
    worker.start()
    try:
        assert ready.wait(10)
        url = lines[0].rsplit(" ", 1)[-1]
        assert any("my-app" in line and "my-secret" in line for line in lines)
        tenant = httpx.get(f"{url}/_sandbox/tenants").json()[0]["id"]
        token = httpx.post(
            f"{url}/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers={"TenantId": str(tenant)},
            auth=("my-app", "my-secret"),
        )
        assert token.status_code == 200 and token.json()["expires_in"] == 60
        default = httpx.post(
            f"{url}/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers={"TenantId": str(tenant)},
            auth=("sandbox-client", "sandbox-secret"),
        )
        assert default.status_code == 400 and default.json()["error"] == "invalid_client"
    finally:
        stop.set()
        worker.join(10)
