"""The runtime's state: ``RuntimeStore`` (interface), ``SqliteStore`` (embedded default), ``PostgresStore``
(``runtime.store.postgres``, many workers; imported only when a ``postgresql://`` URL asks for it)."""

from fortnox_connector.runtime.store.base import (
    AUTH_MODES,
    AuthMode,
    OutboxEntry,
    RunRecord,
    RuntimeStore,
    TenantRecord,
)
from fortnox_connector.runtime.store.delivery import OutboxDelivery
from fortnox_connector.runtime.store.keys import KEY_ENV, PREVIOUS_KEYS_ENV, load_or_create_key, previous_keys
from fortnox_connector.runtime.store.select import store_from_url
from fortnox_connector.runtime.store.sqlite import SqliteStore

__all__ = [
    "AUTH_MODES",
    "KEY_ENV",
    "PREVIOUS_KEYS_ENV",
    "AuthMode",
    "OutboxDelivery",
    "OutboxEntry",
    "RunRecord",
    "RuntimeStore",
    "SqliteStore",
    "TenantRecord",
    "load_or_create_key",
    "previous_keys",
    "store_from_url",
]
