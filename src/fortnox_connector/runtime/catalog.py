"""Which triggers and actions the runtime can run, by name.

The plugin manager (``contract.manager.ConnectorManager``) is the source when it is installed: it sees
every registered connector. Until then (and as a fallback) the built-in modules are imported by name.
Tests hand the runtime a ``StaticCatalog`` with their own specs.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fortnox_connector.contract.records import ActionSpec, TriggerSpec
from fortnox_connector.errors import ConfigError

log = logging.getLogger(__name__)

BUILTIN_TRIGGERS = ("payment_received", "invoice_paid")
BUILTIN_ACTIONS = ("register_payment", "get_invoice")
CONNECTOR = "fortnox"


class Catalog(Protocol):
    def trigger(self, name: str) -> TriggerSpec: ...

    def action(self, name: str) -> ActionSpec: ...

    def trigger_names(self) -> list[str]: ...

    def action_names(self) -> list[str]: ...


def _unknown(kind: str, name: str, known: Iterable[str]) -> ConfigError:
    return ConfigError(
        f"there is no {kind} called {name!r}",
        field=kind,
        hint=f"choose one of: {', '.join(sorted(known)) or '(none installed)'}",
    )


@dataclass
class StaticCatalog:
    """Triggers and actions given up front (tests, embedding)."""

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


def _schema(relpath: str | None) -> Mapping[str, Any]:
    """The JSON Schema at ``schemas/<relpath>`` if the declaration package can load it, else ``{}``."""
    if not relpath:
        return {}
    try:
        schemas = importlib.import_module("fortnox_connector.declaration.schemas")
        loaded: Mapping[str, Any] = schemas.load_schema(relpath)
        return loaded
    except (ImportError, AttributeError, OSError, ValueError):
        return {}


def builtin_trigger(name: str) -> TriggerSpec:
    """The spec of the built-in trigger module ``fortnox_connector.triggers.<name>``."""
    if name not in BUILTIN_TRIGGERS:
        raise _unknown("trigger", name, BUILTIN_TRIGGERS)
    try:
        mod: Any = importlib.import_module(f"fortnox_connector.triggers.{name}")
    except ImportError as exc:
        raise ConfigError(
            f"the trigger {name!r} is not installed ({exc.name})",
            field="trigger",
            hint="install a release of fortnox-connector that includes it",
        ) from None
    return TriggerSpec(
        connector=CONNECTOR,
        name=str(getattr(mod, "NAME", name)),
        description=str(getattr(mod, "DESCRIPTION", "")),
        event_schema=_schema(getattr(mod, "EVENT_SCHEMA_PATH", None)),
        poll=mod.poll,
    )


def builtin_action(name: str) -> ActionSpec:
    """The spec of the built-in action module ``fortnox_connector.actions.<name>``."""
    if name not in BUILTIN_ACTIONS:
        raise _unknown("action", name, BUILTIN_ACTIONS)
    mod: Any = importlib.import_module(f"fortnox_connector.actions.{name}")
    doc = (mod.__doc__ or "").strip().splitlines()
    return ActionSpec(
        connector=CONNECTOR,
        name=name,
        description=doc[0] if doc else "",
        input_schema=_schema(f"actions/{name}.input.json"),
        output_schema=_schema(f"actions/{name}.output.json"),
        run=mod.run,
    )


class BuiltinCatalog:
    """The connector's own triggers and actions, imported by module name."""

    def trigger(self, name: str) -> TriggerSpec:
        return builtin_trigger(name)

    def action(self, name: str) -> ActionSpec:
        return builtin_action(name)

    def trigger_names(self) -> list[str]:
        return list(BUILTIN_TRIGGERS)

    def action_names(self) -> list[str]:
        return list(BUILTIN_ACTIONS)


class ManagerCatalog:
    """Names resolved through the plugin manager (every installed connector; fortnox by default)."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def trigger(self, name: str) -> TriggerSpec:
        spec: TriggerSpec = self.manager.trigger(name)
        return spec

    def action(self, name: str) -> ActionSpec:
        spec: ActionSpec = self.manager.action(name)
        return spec

    def trigger_names(self) -> list[str]:
        return [t.name for t in self.manager.triggers(CONNECTOR)]

    def action_names(self) -> list[str]:
        return [a.name for a in self.manager.actions(CONNECTOR)]


def load_catalog() -> Catalog:
    """The plugin manager's view when it is available, else the built-in modules."""
    try:
        manager_mod: Any = importlib.import_module("fortnox_connector.contract.manager")
    except ImportError:
        return BuiltinCatalog()
    return ManagerCatalog(manager_mod.ConnectorManager.load())
