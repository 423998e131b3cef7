"""Shared fixtures: a fresh Fortnox sandbox per test over loopback HTTP and quick bearer tokens.

Use ``@pytest.mark.sandbox(rate_limit=True, ...)`` to pass other ``SandboxOptions`` to ``sandbox``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fortnox_connector.sandbox import Sandbox, SandboxOptions

SANDBOX_START = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox(**options): SandboxOptions for the sandbox fixture")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the sandbox may talk to loopback even under ``--block-network``."""
    for item in items:
        if "sandbox" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.block_network(allowed_hosts=["127.0.0.1"]))


@pytest.fixture
def sandbox_options(request: pytest.FixtureRequest) -> SandboxOptions:
    """Defaults for tests: rate limit off, a frozen business clock at SANDBOX_START, seed 1."""
    fields: dict[str, object] = {"rate_limit": False, "start": SANDBOX_START, "frozen_clock": True}
    marker = request.node.get_closest_marker("sandbox")
    if marker is not None:
        fields.update(marker.kwargs)
    return SandboxOptions(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sandbox(sandbox_options: SandboxOptions) -> Iterator[Sandbox]:
    """A fresh sandbox serving on 127.0.0.1 (random port) for one test."""
    with Sandbox.start(sandbox_options, host="127.0.0.1", port=0) as sb:
        yield sb


@pytest.fixture
def sandbox_tenant(sandbox: Sandbox) -> int:
    """The first seeded tenant's id (DatabaseNumber)."""
    return sandbox.tenant_ids()[0]


@pytest.fixture
def sandbox_token(sandbox: Sandbox) -> Callable[..., str]:
    """``sandbox_token(tenant_id=None, scopes=None) -> str``: an access token (first tenant, all scopes)."""

    def make(tenant_id: int | None = None, scopes: tuple[str, ...] | None = None) -> str:
        tenant = tenant_id if tenant_id is not None else sandbox.tenant_ids()[0]
        answer = sandbox.issue_token(tenant, scopes) if scopes is not None else sandbox.issue_token(tenant)
        return str(answer["access_token"])

    return make


from tests.pg_fixtures import pg_url, postgres_server  # noqa: E402 - shared fixtures

__all__ = ["pg_url", "postgres_server"]
