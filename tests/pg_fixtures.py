"""PostgreSQL for the tests: one real server per session (Debian's binaries, a temp dir), a database per test.

The server is started by ``LocalPostgres`` (as the ``postgres`` user when the tests run as root). A missing
PostgreSQL fails the tests that need it with the command that installs it; ``make test`` installs it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from fortnox_connector.runtime.store.localpg import LocalPostgres

_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A PostgreSQL server on a free loopback port for the whole session."""
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: LocalPostgres) -> str:
    """The URL of a new, empty database of the session's server (one per test: no shared state)."""
    return postgres_server.create_database(f"t{next(_names)}")
