"""A connector as a host sees it: who it is, what it offers, and ``open(tenant)`` → a session.

The connector opens its own per-tenant context (its API client, its auth) from a ``TenantSpec``; the host
never sees that context's type. Triggers and actions are nested in the connector, so none can exist
without one. A session binds them to the tenant: ``session.trigger(name).poll(cursor)``,
``session.action(name).run(input)``. Errors the connector raises on purpose come out naming the tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic

from fortnox_connector.contract.records import (
    JSON,
    ActionSpec,
    C,
    CheckResult,
    PollResult,
    TenantSpec,
    TriggerSpec,
)
from fortnox_connector.contract.stream import StreamSpec
from fortnox_connector.errors import ConfigError, ConnectorError


def unknown_name(kind: str, name: str, known: Sequence[str], tenant: str | None = None) -> ConfigError:
    """The error for a name nobody registered: it lists the known ones."""
    return ConfigError(
        f"there is no {kind} called {name!r}",
        field=kind.split()[0],
        tenant=tenant,
        hint=f"choose one of: {', '.join(sorted(known)) or '(none registered)'}",
    )


@dataclass(frozen=True, slots=True)
class Connector(Generic[C]):
    """A connector a host can offer, read without running it, and opened per tenant.

    ``open_context(tenant)`` is the connector's own: a context manager giving the context its triggers and
    actions take. ``declaration`` is the connector's manifest (auth modes, secrets manifest, schedule) or
    ``None``; ``config_schema`` the tenant config's self-contained JSON Schema (a host renders its form
    from it). ``check(context, tenant)``, when given, says whether a tenant is ready (each scope, licence,
    …) as ``CheckResult`` items. ``read_config(data, tenant)``, when given, is a tenant's config checked
    and completed with its defaults (or a ``ConfigError`` naming the field): a host checks a config when it
    is set, not when it first runs. ``manifest()``, when given, is the declaration as its file says it
    (validated first; a host shows it to operators). ``capabilities`` are optional helpers a runtime may use
    by name (each documented by its connector, e.g. a connect flow); a host needs none of them.
    """

    name: str
    title: str
    version: str
    description: str
    open_context: Callable[[TenantSpec], AbstractContextManager[C]]
    triggers: tuple[TriggerSpec[C], ...] = ()
    actions: tuple[ActionSpec[C], ...] = ()
    streams: tuple[StreamSpec, ...] = ()
    declaration: Any = None
    config_schema: Mapping[str, JSON] = field(default_factory=dict)
    check: Callable[[C, TenantSpec], Sequence[CheckResult]] | None = None
    read_config: Callable[[Mapping[str, JSON], str], Mapping[str, JSON]] | None = None
    manifest: Callable[[], str] | None = None
    capabilities: Mapping[str, Any] = field(default_factory=dict)

    def trigger(self, name: str) -> TriggerSpec[C]:
        """The trigger ``name``; an unknown one is a ``ConfigError`` listing the known ones."""
        for spec in self.triggers:
            if spec.name == name:
                return spec
        raise unknown_name(f"trigger of the connector {self.name!r}", name, [t.name for t in self.triggers])

    def action(self, name: str) -> ActionSpec[C]:
        """The action ``name``; an unknown one is a ``ConfigError`` listing the known ones."""
        for spec in self.actions:
            if spec.name == name:
                return spec
        raise unknown_name(f"action of the connector {self.name!r}", name, [a.name for a in self.actions])

    def stream(self, name: str) -> StreamSpec:
        """The stream source ``name`` (``contract.stream``); an unknown one lists the known ones."""
        for spec in self.streams:
            if spec.name == name:
                return spec
        raise unknown_name(f"stream of the connector {self.name!r}", name, [s.name for s in self.streams])

    @contextmanager
    def open(self, tenant: TenantSpec) -> Iterator[Session[C]]:
        """A session for ``tenant`` for the ``with`` block; what the connector opened is closed after it."""
        try:
            with self.open_context(tenant) as context:
                yield Session(self, tenant, context)
        except ConnectorError as exc:
            exc.with_tenant(tenant.id)
            raise


@dataclass(frozen=True, slots=True)
class Session(Generic[C]):
    """One tenant's open connector: its triggers and actions, bound to the tenant."""

    connector: Connector[C]
    tenant: TenantSpec
    context: C  # the connector's own; a host has no need of it

    def check(self) -> list[CheckResult]:
        """The connector's readiness check for the tenant (none offered: an empty list)."""
        if self.connector.check is None:
            return []
        return list(self.connector.check(self.context, self.tenant))

    def trigger(self, name: str) -> BoundTrigger[C]:
        try:
            return BoundTrigger(self.connector.trigger(name), self.context, self.tenant.id)
        except ConnectorError as exc:
            exc.with_tenant(self.tenant.id)
            raise

    def action(self, name: str) -> BoundAction[C]:
        try:
            return BoundAction(self.connector.action(name), self.context, self.tenant.id)
        except ConnectorError as exc:
            exc.with_tenant(self.tenant.id)
            raise


@dataclass(frozen=True, slots=True)
class BoundTrigger(Generic[C]):
    """A trigger bound to one tenant's context: ``poll(cursor)``."""

    spec: TriggerSpec[C]
    context: C
    tenant: str

    @property
    def name(self) -> str:
        return self.spec.name

    def poll(self, cursor: str | None = None) -> PollResult:
        """One page after ``cursor`` (``None``: the first run); commit its cursor once its events are out."""
        try:
            return self.spec.poll(self.context, cursor)
        except ConnectorError as exc:
            exc.with_tenant(self.tenant)
            raise


@dataclass(frozen=True, slots=True)
class BoundAction(Generic[C]):
    """An action bound to one tenant's context: ``run(input)``."""

    spec: ActionSpec[C]
    context: C
    tenant: str

    @property
    def name(self) -> str:
        return self.spec.name

    def run(self, input: Mapping[str, JSON]) -> Mapping[str, JSON]:
        """Run the action with ``input`` (valid for its input schema) and return its output."""
        try:
            return self.spec.run(self.context, input)
        except ConnectorError as exc:
            exc.with_tenant(self.tenant)
            raise
