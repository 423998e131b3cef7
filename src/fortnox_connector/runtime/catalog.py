"""Which connector the runtime runs, by name, and whom it tells about checkpoints and tokens.

The plugin manager (``contract.ConnectorManager``) is the source: the runtime runs one installed connector
(``--connector``/``$CONNECTOR_NAME``; by default the only one installed), and the manager's observer hooks
hear of committed cursors and refreshed tokens (never a token itself). Tests hand the runtime a
``StaticCatalog`` with a connector of their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fortnox_connector.contract.connector import Connector
from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.contract.records import ActionSpec, TriggerSpec
from fortnox_connector.contract.state import Token

CONNECTOR_ENV = "CONNECTOR_NAME"


class Catalog(Protocol):
    @property
    def connector(self) -> Connector[Any]: ...

    def trigger(self, name: str) -> TriggerSpec[Any]: ...

    def action(self, name: str) -> ActionSpec[Any]: ...

    def trigger_names(self) -> list[str]: ...

    def action_names(self) -> list[str]: ...

    def checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        """A cursor was committed (after its events were delivered)."""
        ...

    def token_refreshed(self, tenant: str, token: Token) -> None:
        """A new token was stored (observers get its expiry and scope only)."""
        ...

    def notify_token_refreshed(self, tenant: str, expires_at: datetime, scope: frozenset[str]) -> None: ...


class _ByName:
    """Lookups every catalog offers, from its ``connector``."""

    connector: Connector[Any]

    def trigger(self, name: str) -> TriggerSpec[Any]:
        return self.connector.trigger(name)

    def action(self, name: str) -> ActionSpec[Any]:
        return self.connector.action(name)

    def trigger_names(self) -> list[str]:
        return [t.name for t in self.connector.triggers]

    def action_names(self) -> list[str]:
        return [a.name for a in self.connector.actions]


@dataclass
class StaticCatalog(_ByName):
    """A connector given up front (tests, embedding); observers are not told anything."""

    connector: Connector[Any]

    def checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        return None

    def token_refreshed(self, tenant: str, token: Token) -> None:
        return None

    def notify_token_refreshed(self, tenant: str, expires_at: datetime, scope: frozenset[str]) -> None:
        return None


class ManagerCatalog(_ByName):
    """The connector ``name`` of the plugin manager (``None``: the only one installed)."""

    def __init__(self, manager: ConnectorManager, name: str | None = None) -> None:
        self.manager = manager
        self.connector = manager.connector(name)

    def checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        self.manager.notify_checkpoint(tenant, trigger, cursor)

    def token_refreshed(self, tenant: str, token: Token) -> None:
        self.manager.token_refreshed(tenant, token)

    def notify_token_refreshed(self, tenant: str, expires_at: datetime, scope: frozenset[str]) -> None:
        self.manager.notify_token_refreshed(tenant, expires_at, scope)


def load_manager(plugins: Iterable[object] = ()) -> ConnectorManager:
    """Every installed plugin and ``plugins``, plus the runtime's own sinks (stdout, file, webhook)."""
    from fortnox_connector.runtime import sinks  # the sinks' module registers them through the contract

    return ConnectorManager.load(plugins=[sinks, *plugins])


def load_catalog(name: str | None = None, *, plugins: Iterable[object] = ()) -> ManagerCatalog:
    """The installed connector ``name`` (default ``$CONNECTOR_NAME``, else the only one installed)."""
    return ManagerCatalog(load_manager(plugins), name or os.environ.get(CONNECTOR_ENV) or None)
