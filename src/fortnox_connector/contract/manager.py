"""``ConnectorManager``: a typed facade over pluggy's ``PluginManager`` that a host loads once.

It registers the built-in plugins (the event sinks), the plugins a host passes, and every entry point of
the ``"connectors"`` group (or only those ``FORTNOX_CONNECTOR_LOAD_PLUGINS`` names), collects what their
registration hooks yield into typed records, and dispatches by name.

Failure policy, so that one bad third-party package cannot take a host down and a real conflict is never
papered over:

- an entry point that fails to import, fails its hooks or yields something malformed is skipped with a
  ``PluginLoadWarning`` (and listed in ``skipped``); a plugin the host passed itself fails loudly;
- two plugins registering the same connector, trigger, action or sink name is a ``ConfigError`` naming both.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

import pluggy

from fortnox_connector.contract import hookspecs
from fortnox_connector.contract.records import (
    ActionSpec,
    ConnectorDefinition,
    EventSink,
    SinkSpec,
    TriggerSpec,
)
from fortnox_connector.contract.state import Token
from fortnox_connector.contract.stream import StreamSpec
from fortnox_connector.errors import ConfigError

LOAD_PLUGINS_ENV = "FORTNOX_CONNECTOR_LOAD_PLUGINS"
BUILTIN_PLUGINS = ("fortnox_connector.runtime.sinks",)
DEFAULT_CONNECTOR = "fortnox"

log = logging.getLogger(__name__)

_R = TypeVar("_R")


class PluginLoadWarning(UserWarning):
    """An entry point could not be loaded or registered; the host carries on without it."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A registered plugin: its name, where it came from, and the package that ships it."""

    name: str
    source: str  # "builtin", "host" or "entry point"
    distribution: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedPlugin:
    """An entry point left out, and why (the exception's type and message; no secrets pass through hooks)."""

    name: str
    reason: str


@dataclass(slots=True)
class _Offer:
    """What one plugin's registration hooks yielded."""

    plugin: str
    connectors: list[ConnectorDefinition]
    triggers: list[TriggerSpec]
    actions: list[ActionSpec]
    sinks: list[SinkSpec]
    streams: list[StreamSpec] = field(default_factory=list)


class ConnectorManager:
    """The connectors, triggers, actions and sinks the loaded plugins offer, by name."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        offers: Sequence[_Offer],
        plugins: Sequence[PluginInfo],
        skipped: Sequence[SkippedPlugin],
    ) -> None:
        self._pm = pm
        self._plugins = tuple(plugins)
        self.skipped: tuple[SkippedPlugin, ...] = tuple(skipped)
        self._connectors: dict[str, ConnectorDefinition] = {}
        self._triggers: dict[tuple[str, str], TriggerSpec] = {}
        self._actions: dict[tuple[str, str], ActionSpec] = {}
        self._sinks: dict[str, SinkSpec] = {}
        self._streams: dict[tuple[str, str], StreamSpec] = {}
        owners: dict[tuple[str, str], str] = {}
        for offer in offers:
            for c in offer.connectors:
                _claim(owners, ("connector", c.name), offer.plugin, f"the connector {c.name!r}")
                self._connectors[c.name] = c
            for s in offer.sinks:
                _claim(owners, ("sink", s.name), offer.plugin, f"the sink {s.name!r}")
                self._sinks[s.name] = s
        for offer in offers:
            for t in offer.triggers:
                self._known_connector(t.connector, f"trigger {t.name!r}", offer.plugin)
                key = ("trigger", f"{t.connector}.{t.name}")
                _claim(owners, key, offer.plugin, f"the trigger {t.name!r}")
                self._triggers[(t.connector, t.name)] = t
            for a in offer.actions:
                self._known_connector(a.connector, f"action {a.name!r}", offer.plugin)
                key = ("action", f"{a.connector}.{a.name}")
                _claim(owners, key, offer.plugin, f"the action {a.name!r}")
                self._actions[(a.connector, a.name)] = a
            for st in offer.streams:
                self._known_connector(st.connector, f"stream {st.name!r}", offer.plugin)
                _claim(
                    owners, ("stream", f"{st.connector}.{st.name}"), offer.plugin, f"the stream {st.name!r}"
                )
                self._streams[(st.connector, st.name)] = st

    # -- loading ---------------------------------------------------------------------------------------

    @classmethod
    def load(cls, *, entry_points: bool = True, plugins: Iterable[object] = ()) -> ConnectorManager:
        """Register the built-ins, then ``plugins``, then (if ``entry_points``) the installed entry points.

        ``FORTNOX_CONNECTOR_LOAD_PLUGINS`` (comma-separated entry-point or distribution names; empty: none)
        limits which entry points load, e.g. to isolate a misbehaving package.
        """
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        infos: list[PluginInfo] = []
        offers: list[_Offer] = []
        skipped: list[SkippedPlugin] = []
        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            offers.append(_register(pm, module, module_name))
            infos.append(PluginInfo(module_name, "builtin"))
        for plugin in plugins:
            if pm.is_registered(plugin):
                continue
            name = _plugin_name(plugin)
            offers.append(_register(pm, plugin, _unique(pm, name)))
            infos.append(PluginInfo(name, "host"))
        installed: dict[str, EntryPoint] = {}
        if entry_points:
            for ep in _selected_entry_points():
                try:
                    plugin = ep.load()
                    if pm.is_registered(plugin):
                        continue
                    offer = _register(pm, plugin, _unique(pm, ep.name))
                except Exception as exc:  # any failure of a third-party plugin: skip it
                    skipped.append(_skip(ep, exc))
                    continue
                offers.append(offer)
                installed[offer.plugin] = ep
        skipped += _drop_orphans(pm, offers, installed)
        for ep in installed.values():
            infos.append(
                PluginInfo(
                    ep.name, "entry point", *((ep.dist.name, ep.dist.version) if ep.dist else (None, None))
                )
            )
        return cls(pm, offers, infos, skipped)

    # -- what is offered -------------------------------------------------------------------------------

    def plugins(self) -> tuple[PluginInfo, ...]:
        return self._plugins

    def connectors(self) -> list[ConnectorDefinition]:
        return list(self._connectors.values())

    def connector(self, name: str = DEFAULT_CONNECTOR) -> ConnectorDefinition:
        try:
            return self._connectors[name]
        except KeyError:
            raise _unknown("connector", name, self._connectors) from None

    def triggers(self, connector: str | None = None) -> list[TriggerSpec]:
        return [t for t in self._triggers.values() if connector is None or t.connector == connector]

    def actions(self, connector: str | None = None) -> list[ActionSpec]:
        return [a for a in self._actions.values() if connector is None or a.connector == connector]

    def trigger(self, name: str, connector: str = DEFAULT_CONNECTOR) -> TriggerSpec:
        """The trigger ``name`` of ``connector``; an unknown one is a ``ConfigError`` listing the known."""
        try:
            return self._triggers[(connector, name)]
        except KeyError:
            known = {t.name: t for t in self.triggers(connector)}
            raise _unknown(f"trigger of the connector {connector!r}", name, known) from None

    def action(self, name: str, connector: str = DEFAULT_CONNECTOR) -> ActionSpec:
        """The action ``name`` of ``connector``; an unknown one is a ``ConfigError`` listing the known."""
        try:
            return self._actions[(connector, name)]
        except KeyError:
            known = {a.name: a for a in self.actions(connector)}
            raise _unknown(f"action of the connector {connector!r}", name, known) from None

    def streams(self, connector: str | None = None) -> list[StreamSpec]:
        """Stream trigger sources (``contract.stream``): one listener per app for many tenants."""
        return [st for st in self._streams.values() if connector is None or st.connector == connector]

    def stream(self, name: str, connector: str = DEFAULT_CONNECTOR) -> StreamSpec:
        try:
            return self._streams[(connector, name)]
        except KeyError:
            known = {st.name: st for st in self.streams(connector)}
            raise _unknown(f"stream of the connector {connector!r}", name, known) from None

    def sinks(self) -> list[SinkSpec]:
        return list(self._sinks.values())

    def sink(self, name: str) -> SinkSpec:
        try:
            return self._sinks[name]
        except KeyError:
            raise _unknown("sink", name, self._sinks) from None

    def make_sink(self, name: str, options: Mapping[str, Any] | None = None) -> EventSink:
        """Build the sink called ``name`` with ``options`` (an unknown name lists the sinks)."""
        return self.sink(name).factory(options or {})

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager, for hosts that add hooks of their own."""
        return self._pm

    # -- observers -------------------------------------------------------------------------------------

    def notify_checkpoint(self, tenant: str, trigger: str, cursor: str) -> None:
        """Tell every plugin that ``cursor`` was committed; a failing observer is logged, never raised."""
        self._notify("on_checkpoint", tenant=tenant, trigger=trigger, cursor=cursor)

    def notify_token_refreshed(self, tenant: str, expires_at: datetime, scope: Iterable[str]) -> None:
        """Tell every plugin that ``tenant`` has a new token (its expiry and scope only, never the token)."""
        self._notify("on_token_refreshed", tenant=tenant, expires_at=expires_at, scope=frozenset(scope))

    def token_refreshed(self, tenant: str, token: Token) -> None:
        """``notify_token_refreshed`` shaped as the auth providers' ``on_refresh`` callback.

        ``AuthorizationCodeTokens(..., on_refresh=manager.token_refreshed)``: plugins hear of each refresh
        with its expiry and scope; the token itself never leaves this method.
        """
        self.notify_token_refreshed(tenant, token.expires_at, token.scope)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            try:
                impl.function(*[kwargs[arg] for arg in impl.argnames])
            except Exception:  # an observer must not break delivery or refresh
                log.warning(
                    "plugin %s failed in %s; carrying on",
                    impl.plugin_name,
                    hook,
                    exc_info=True,
                    extra={"tenant": kwargs.get("tenant")},
                )

    def _known_connector(self, connector: str, what: str, plugin: str) -> None:
        if connector not in self._connectors:
            raise ConfigError(
                f"plugin {plugin!r} registers the {what} for the connector {connector!r}, "
                "which no plugin registers",
                field="connector",
                hint=f"yield ConnectorDefinition({connector!r}, …) from register_connectors in that plugin",
            )


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> _Offer:
    """Register ``plugin`` and collect its records; on any failure unregister it and re-raise."""
    pm.register(plugin, name=name)
    try:
        unknown = [c.name for c in pm.get_hookcallers(plugin) or () if not c.has_spec()]
        if unknown:
            raise ConfigError(
                f"plugin {name!r} implements hooks that do not exist: {', '.join(sorted(unknown))}",
                field="hooks",
                hint="check the hook names against fortnox_connector.contract.hookspecs",
            )
        return _Offer(
            plugin=name,
            connectors=_yielded(pm, plugin, "register_connectors", ConnectorDefinition),
            triggers=_yielded(pm, plugin, "register_triggers", TriggerSpec),
            actions=_yielded(pm, plugin, "register_actions", ActionSpec),
            sinks=_yielded(pm, plugin, "register_sinks", SinkSpec),
            streams=_yielded(pm, plugin, "register_streams", StreamSpec),
        )
    except Exception:
        pm.unregister(plugin)
        raise


def _yielded(pm: pluggy.PluginManager, plugin: object, hook: str, kind: type[_R]) -> list[_R]:
    """What ``plugin``'s implementation of ``hook`` yields, each checked to be a ``kind``."""
    out: list[_R] = []
    for impl in getattr(pm.hook, hook).get_hookimpls():
        if impl.plugin is not plugin:
            continue
        for record in impl.function() or ():
            if not isinstance(record, kind):
                raise ConfigError(
                    f"plugin {impl.plugin_name!r}: {hook} yielded a {type(record).__name__}, "
                    f"not a {kind.__name__}",
                    field=hook,
                    hint=f"yield fortnox_connector.contract.{kind.__name__}(…) records",
                )
            out.append(record)
    return out


def _drop_orphans(
    pm: pluggy.PluginManager, offers: list[_Offer], installed: dict[str, EntryPoint]
) -> list[SkippedPlugin]:
    """Skip installed plugins whose triggers or actions name a connector nobody registers (broken too).

    A plugin the host passed is left in place: the manager's constructor raises for it. Repeated until none
    is left: a skipped plugin takes its own connectors with it, which may orphan another plugin's records.
    """
    skipped: list[SkippedPlugin] = []
    dropped = True
    while dropped:
        dropped = False
        known = {c.name for o in offers for c in o.connectors}
        for offer in list(offers):
            source = installed.get(offer.plugin)
            records: list[TriggerSpec | ActionSpec] = [*offer.triggers, *offer.actions]
            orphan = next((r for r in records if r.connector not in known), None)
            if orphan is None or source is None:
                continue
            offers.remove(offer)
            pm.unregister(name=offer.plugin)
            del installed[offer.plugin]
            reason = f"it names the connector {orphan.connector!r}, which no plugin registers"
            skipped.append(_skip(source, ConfigError(reason), stacklevel=4))
            dropped = True
    return skipped


def _skip(ep: EntryPoint, exc: Exception, *, stacklevel: int = 3) -> SkippedPlugin:
    """Warn that the entry point ``ep`` is left out because of ``exc``, and say how to fix it."""
    reason = f"{type(exc).__name__}: {exc}"
    source = f", from {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
    warnings.warn(
        f"skipped the connectors plugin {ep.name!r} ({ep.value}{source}): {reason}. Fix: reinstall or "
        f"upgrade that package, or leave it out with {LOAD_PLUGINS_ENV}",
        PluginLoadWarning,
        stacklevel=stacklevel,
    )
    return SkippedPlugin(ep.name, reason)


def _claim(owners: dict[tuple[str, str], str], key: tuple[str, str], plugin: str, what: str) -> None:
    first = owners.get(key)
    if first is None:
        owners[key] = plugin
        return
    by = f"twice by plugin {plugin!r}" if first == plugin else f"by plugin {first!r} and by plugin {plugin!r}"
    raise ConfigError(
        f"{what} is registered {by}",
        field=key[0],
        hint=f"uninstall one of the two, or choose the entry points to load with {LOAD_PLUGINS_ENV}",
    )


def _unknown(kind: str, name: str, known: Mapping[str, object]) -> ConfigError:
    return ConfigError(
        f"there is no {kind} called {name!r}",
        field=kind.split()[0],
        hint=f"choose one of: {', '.join(sorted(known)) or '(none registered)'}",
    )


def _selected_entry_points() -> list[EntryPoint]:
    """The group's entry points, each (name, target) once, filtered by ``FORTNOX_CONNECTOR_LOAD_PLUGINS``."""
    wanted_env = os.environ.get(LOAD_PLUGINS_ENV)
    wanted = None if wanted_env is None else {_norm(n) for n in wanted_env.split(",") if n.strip()}
    seen: set[tuple[str, str]] = set()
    selected: list[EntryPoint] = []
    for ep in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        if (ep.name, ep.value) in seen:
            continue  # the same distribution visible twice on sys.path
        seen.add((ep.name, ep.value))
        dist = ep.dist.name if ep.dist is not None else ""
        if wanted is not None and _norm(ep.name) not in wanted and _norm(dist) not in wanted:
            continue
        selected.append(ep)
    return selected


def _norm(name: str) -> str:
    """Compare package names as packaging does (``Fortnox_Connector`` = ``fortnox-connector``)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _plugin_name(plugin: object) -> str:
    name = getattr(plugin, "__name__", None)
    return str(name) if name else type(plugin).__name__


def _unique(pm: pluggy.PluginManager, name: str) -> str:
    candidate, n = name, 1
    while pm.has_plugin(candidate):
        n += 1
        candidate = f"{name}#{n}"
    return candidate
