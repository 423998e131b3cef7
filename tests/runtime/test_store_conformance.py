"""The stores we ship pass the conformance suite any host's store runs (``fortnox_connector.testing``).

Another store joins by subclassing the suite with its own ``state_store_factory`` (a new handle on one
shared storage per call), as below.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.contract import MemoryStateStore
from fortnox_connector.runtime.store import SqliteStore
from fortnox_connector.testing import OutboxConformance, StateStoreConformance, StoreFactory


class TestSqliteStore(OutboxConformance):
    @pytest.fixture
    def state_store_factory(self, tmp_path: Path) -> StoreFactory:
        key = Fernet.generate_key()
        return lambda: SqliteStore(tmp_path / "state.db", key)


class TestMemoryStateStore(StateStoreConformance):
    @pytest.fixture
    def state_store_factory(self) -> StoreFactory:
        shared = MemoryStateStore()
        return lambda: shared


class TestPostgresStore(OutboxConformance):
    @pytest.fixture
    def state_store_factory(self, pg_url: str) -> StoreFactory:
        from fortnox_connector.runtime.store.postgres import PostgresStore

        key = Fernet.generate_key()
        return lambda: PostgresStore(pg_url, key)
