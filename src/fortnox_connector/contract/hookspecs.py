"""The hooks between a host and its connectors (pluggy project and entry-point group ``"connectors"``).

Registration hooks yield typed records (``contract.records``) that the host keeps and dispatches by name;
observer hooks tell plugins what the host did. A plugin needs no import from this package: a
``pluggy.HookimplMarker("connectors")`` of its own matches these specs. Each docstring is a doctest
(``tests/contract/test_hookspecs.py`` runs them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pluggy

from fortnox_connector.contract.records import ActionSpec, ConnectorDefinition, SinkSpec, TriggerSpec
from fortnox_connector.contract.stream import StreamSpec

PROJECT = "connectors"
ENTRY_POINT_GROUP = "connectors"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_connectors() -> Iterable[ConnectorDefinition]:
    """Offer connectors, each named once across all plugins.

    >>> from fortnox_connector.contract import ConnectorDefinition, ConnectorManager, hookimpl
    >>> class Acme:
    ...     @hookimpl
    ...     def register_connectors(self):
    ...         yield ConnectorDefinition("acme", "Acme", "1.0", "Acme's ledger")
    >>> [c.name for c in ConnectorManager.load(entry_points=False, plugins=[Acme()]).connectors()]
    ['acme']
    """
    yield from ()


@hookspec
def register_triggers() -> Iterable[TriggerSpec]:
    """Offer poll triggers; ``(connector, name)`` is unique and the connector must be registered.

    >>> from fortnox_connector.contract import (
    ...     ConnectorDefinition, ConnectorManager, PollResult, TriggerSpec, hookimpl)
    >>> class Acme:
    ...     @hookimpl
    ...     def register_connectors(self):
    ...         yield ConnectorDefinition("acme", "Acme", "1.0", "Acme's ledger")
    ...     @hookimpl
    ...     def register_triggers(self):
    ...         yield TriggerSpec("acme", "ping", "a ping", {"type": "object"},
    ...                           poll=lambda ctx, cursor: PollResult(events=(), cursor="0", more=False))
    >>> manager = ConnectorManager.load(entry_points=False, plugins=[Acme()])
    >>> manager.trigger("ping", connector="acme").poll(None, None).cursor
    '0'
    """
    yield from ()


@hookspec
def register_streams() -> Iterable[StreamSpec]:
    """Offer stream trigger sources (``contract.stream``): one long-lived listener per app for many tenants.

    >>> from fortnox_connector.contract import ConnectorDefinition, ConnectorManager, hookimpl
    >>> from fortnox_connector.contract.stream import StreamSpec
    >>> class Acme:
    ...     @hookimpl
    ...     def register_connectors(self):
    ...         yield ConnectorDefinition("acme", "Acme", "1.0", "Acme's ledger")
    ...     @hookimpl
    ...     def register_streams(self):
    ...         yield StreamSpec("acme", "changes", "what changed", ("ping",), open=lambda options: None)
    >>> [s.name for s in ConnectorManager.load(entry_points=False, plugins=[Acme()]).streams("acme")]
    ['changes']
    """
    yield from ()


@hookspec
def register_actions() -> Iterable[ActionSpec]:
    """Offer actions, with the JSON Schemas of their input and output.

    >>> from fortnox_connector.contract import (
    ...     ActionSpec, ConnectorDefinition, ConnectorManager, hookimpl)
    >>> class Acme:
    ...     @hookimpl
    ...     def register_connectors(self):
    ...         yield ConnectorDefinition("acme", "Acme", "1.0", "Acme's ledger")
    ...     @hookimpl
    ...     def register_actions(self):
    ...         yield ActionSpec("acme", "echo", "returns its input", {"type": "object"},
    ...                          {"type": "object"}, run=lambda ctx, data: dict(data))
    >>> ConnectorManager.load(entry_points=False, plugins=[Acme()]).action("echo", "acme").run(None, {"a": 1})
    {'a': 1}
    """
    yield from ()


@hookspec
def register_sinks() -> Iterable[SinkSpec]:
    """Offer event sinks a host can deliver to; names are unique across plugins.

    >>> from fortnox_connector.contract import ConnectorManager, SinkSpec, hookimpl
    >>> class Null:
    ...     def deliver(self, events): pass
    ...     def close(self): pass
    >>> class NullSinks:
    ...     @hookimpl
    ...     def register_sinks(self):
    ...         yield SinkSpec("null", "drops every event", lambda options: Null())
    >>> manager = ConnectorManager.load(entry_points=False, plugins=[NullSinks()])
    >>> sorted(s.name for s in manager.sinks())
    ['file', 'null', 'stdout', 'webhook']
    """
    yield from ()


@hookspec
def on_checkpoint(tenant: str, trigger: str, cursor: str) -> None:
    """The host committed ``cursor`` for ``trigger`` of ``tenant``, after delivering the events before it.

    >>> from fortnox_connector.contract import ConnectorManager, hookimpl
    >>> class Audit:
    ...     @hookimpl
    ...     def on_checkpoint(self, tenant, trigger, cursor):
    ...         print(tenant, trigger, cursor)
    >>> ConnectorManager.load(entry_points=False, plugins=[Audit()]).notify_checkpoint("t1", "ping", "42")
    t1 ping 42
    """


@hookspec
def on_token_refreshed(tenant: str, expires_at: datetime, scope: frozenset[str]) -> None:
    """``tenant`` has a new access token until ``expires_at`` with ``scope``; never the token itself.

    >>> from datetime import datetime, timezone
    >>> from fortnox_connector.contract import ConnectorManager, hookimpl
    >>> class Audit:
    ...     @hookimpl
    ...     def on_token_refreshed(self, tenant, expires_at, scope):
    ...         print(tenant, expires_at.isoformat(), sorted(scope))
    >>> ConnectorManager.load(entry_points=False, plugins=[Audit()]).notify_token_refreshed(
    ...     "t1", datetime(2026, 1, 1, tzinfo=timezone.utc), frozenset({"invoice"}))
    t1 2026-01-01T00:00:00+00:00 ['invoice']
    """
