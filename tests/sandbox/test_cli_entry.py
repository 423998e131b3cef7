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
