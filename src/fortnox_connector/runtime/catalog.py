"""Which triggers and actions the runtime can run, by name, and whom it tells about checkpoints and tokens.

The plugin manager (``contract.manager.ConnectorManager``) is the source: it sees every registered
connector, and its observer hooks hear of committed cursors and refreshed tokens (never a token itself).
Tests hand the runtime a ``StaticCatalog`` with their own specs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.contract.records import ActionSpec, TriggerSpec
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ConfigError

CONNECTOR = "fortnox"


class Catalog(Protocol):
    def trigger(self, name: str) -> TriggerSpec: ...

    def action(self, name: str) -> ActionSpec: ...

    def trigger_names(self) -> list[str]: ...

    def action_names(self) -> list[str]: ...

    def checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        """A cursor was committed (after its events were delivered)."""
        ...

    def token_refreshed(self, tenant: str, token: Token) -> None:
        """A new token was stored (observers get its expiry and scope only)."""
        ...


def _unknown(kind: str, name: str, known: Iterable[str]) -> ConfigError:
    return ConfigError(
        f"there is no {kind} called {name!r}",
        field=kind,
        hint=f"choose one of: {', '.join(sorted(known)) or '(none installed)'}",
    )


@dataclass
class StaticCatalog:
    """Triggers and actions given up front (tests, embedding); observers are not told anything."""

    triggers: Mapping[str, TriggerSpec] = field(default_factory=dict)
    actions: Mapping[str, ActionSpec] = field(default_factory=dict)

    def trigger(self, name: str) -> TriggerSpec:
        if name not in self.triggers:
            raise _unknown("trigger", name, self.triggers)
        return self.triggers[name]

    def action(self, name: str) -> ActionSpec:
        if name not in self.actions:
            raise _unknown("action", name, self.actions)
        return self.actions[name]

    def trigger_names(self) -> list[str]:
        return list(self.triggers)

    def action_names(self) -> list[str]:
        return list(self.actions)

    def checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        return None

    def token_refreshed(self, tenant: str, token: Token) -> None:
        return None


class ManagerCatalog:
    """Names resolved through the plugin manager (the fortnox connector unless told otherwise)."""

    def __init__(self, manager: ConnectorManager, connector: str = CONNECTOR) -> None:
        self.manager = manager
        self.connector = connector

    def trigger(self, name: str) -> TriggerSpec:
        return self.manager.trigger(name, self.connector)

    def action(self, name: str) -> ActionSpec:
        return self.manager.action(name, self.connector)

    def trigger_names(self) -> list[str]:
        return [t.name for t in self.manager.triggers(self.connector)]

    def action_names(self) -> list[str]:
        return [a.name for a in self.manager.actions(self.connector)]

    def checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        self.manager.notify_checkpoint(tenant, trigger, cursor)

    def token_refreshed(self, tenant: str, token: Token) -> None:
        self.manager.token_refreshed(tenant, token)


def load_catalog() -> Catalog:
    """Every installed connector's triggers and actions, through the plugin manager."""
    return ManagerCatalog(ConnectorManager.load())
