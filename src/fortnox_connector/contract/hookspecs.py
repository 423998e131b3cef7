"""The hooks between a host and its connectors (pluggy project and entry-point group ``"connectors"``).

One registration hook yields connectors with their triggers and actions nested; one yields event sinks;
observer hooks tell plugins what the host did. A plugin needs no import from this package beyond the
records: a ``pluggy.HookimplMarker("connectors")`` of its own matches these specs. Each docstring is a
doctest (``tests/contract/test_manager.py::test_hookspec_docstrings_are_runnable_examples`` runs them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pluggy

from fortnox_connector.contract.connector import Connector
from fortnox_connector.contract.records import SinkSpec

PROJECT = "connectors"
ENTRY_POINT_GROUP = "connectors"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_connectors() -> Iterable[Connector[Any]]:
    """Offer connectors, each named once across all plugins, with their triggers and actions.

    >>> from contextlib import nullcontext
    >>> from fortnox_connector.contract import (
    ...     Connector, ConnectorManager, PollResult, TenantSpec, TriggerSpec, hookimpl)
    >>> class Acme:
    ...     @hookimpl
    ...     def register_connectors(self):
    ...         ping = TriggerSpec("ping", "a ping", {}, lambda ctx, cursor: PollResult((), "1", False))
    ...         yield Connector("acme", "Acme", "1.0", "Acme's ledger", nullcontext, triggers=(ping,))
    >>> acme = ConnectorManager.load(entry_points=False, plugins=[Acme()]).connector("acme")
    >>> with acme.open(TenantSpec("t1")) as session:
    ...     session.trigger("ping").poll(None).cursor
    '1'
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
    >>> [s.name for s in ConnectorManager.load(entry_points=False, plugins=[NullSinks()]).sinks()]
    ['null']
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
