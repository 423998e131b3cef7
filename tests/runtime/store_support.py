"""Both stores behind one fixture: every store test runs against SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fortnox_connector.runtime.store import RuntimeStore, SqliteStore
from fortnox_connector.runtime.store.postgres import PostgresStore

STORE_KINDS = ("sqlite", "postgres")


def open_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    key: bytes,
    *,
    now: Callable[[], datetime] | None = None,
) -> RuntimeStore:
    """A new store of the kind ``request.param`` names (a fresh database for PostgreSQL)."""
    clock = now or (lambda: datetime.now(UTC))
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return PostgresStore(url, key, now=clock)
    return SqliteStore(tmp_path / "state.db", key, now=clock)
