"""Fixtures: an invoice in the sandbox and a context whose client logs its calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import Recorder, make_client, make_ctx


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def state() -> MemoryStateStore:
    return MemoryStateStore()


@pytest.fixture
def ctx(
    sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder, state: MemoryStateStore
) -> Iterator[TenantContext]:
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    with make_client(sandbox.base_url, token, str(sandbox_tenant), recorder) as client:
        yield make_ctx(client, state, str(sandbox_tenant))
