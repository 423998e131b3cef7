"""Fixtures: a recording transport, a real client on the sandbox's first tenant, and a host factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.sandbox import Sandbox
from tests.triggers.support import Host, Recorder, make_client, make_ctx


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder) -> Iterator[FortnoxClient]:
    with make_client(sandbox, sandbox_tenant, recorder) as c:
        yield c


@pytest.fixture
def make_host(sandbox: Sandbox, client: FortnoxClient) -> Callable[..., Host]:
    """``make_host(**config_fields) -> Host`` on the first tenant, its ``now`` the sandbox clock."""

    def make(**config: Any) -> Host:
        return Host(make_ctx(sandbox, client, TenantConfig(**config)))

    return make
