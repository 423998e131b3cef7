"""``run_sandbox`` prints where it listens and the demo client, serves, and stops when asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from fortnox_connector.sandbox import run_sandbox

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])


@contextmanager
def serving(**options: Any) -> Iterator[tuple[str, list[str]]]:
    """Run ``run_sandbox`` in a thread until its banner is out; yield its URL and lines; stop it after."""
    lines: list[str] = []
    ready = threading.Event()
    stop = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        if line.strip().startswith("tenants:"):
            ready.set()

    worker = threading.Thread(
        target=run_sandbox, kwargs={"port": 0, "out": out, "stop": stop, **options}, daemon=True
    )
    worker.start()
    try:
        assert ready.wait(10)
        yield lines[0].rsplit(" ", 1)[-1], lines
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()


def client_credentials(url: str, tenant: int, auth: tuple[str, str]) -> httpx.Response:
    return httpx.post(
        f"{url}/oauth-v1/token",
        data={"grant_type": "client_credentials"},
        headers={"TenantId": str(tenant)},
        auth=auth,
    )


def test_run_sandbox_serves_until_stopped() -> None:
    with serving() as (url, lines):
        assert url.startswith("http://127.0.0.1:")
        assert any("sandbox-client" in line and "sandbox-secret" in line for line in lines)
        assert len(httpx.get(f"{url}/_sandbox/tenants").json()) == 3


def test_the_client_and_token_life_can_be_set() -> None:
    with serving(client_id="my-app", client_secret="my-secret", token_ttl=60) as (url, lines):
        assert any("my-app" in line for line in lines)
        assert not any("my-secret" in line for line in lines)  # a given secret is never printed
        tenant = httpx.get(f"{url}/_sandbox/tenants").json()[0]["id"]
        token = client_credentials(url, tenant, ("my-app", "my-secret"))
        assert token.status_code == 200 and token.json()["expires_in"] == 60
        default = client_credentials(url, tenant, ("sandbox-client", "sandbox-secret"))
        assert default.status_code == 400 and default.json()["error"] == "invalid_client"
