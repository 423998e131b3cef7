"""``ConnectorManager``: a typed facade over pluggy's ``PluginManager`` that a host loads once.

It registers the plugins a host passes, then every entry point of the ``"connectors"`` group (or only
those ``CONNECTORS_LOAD_PLUGINS`` names), and keeps what ``register_connectors`` and ``register_sinks``
yield, by name. pluggy checks the hooks (``check_pending``: no unknown hook names); the manager checks
the records. One bad third-party package cannot take a host down, and a conflict is never papered over:

- an entry point that fails to import, has an unknown hook, raises in a hook or yields something that is
  not the record type is skipped with a ``PluginLoadWarning`` (listed in ``skipped``); a plugin the host
  passed itself fails loudly;
- the same connector or sink name twice, or a trigger or action name twice in one connector, is a
  ``ConfigError`` naming both plugins.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from fortnox_connector.contract import hookspecs
from fortnox_connector.contract.connector import Connector, unknown_name
from fortnox_connector.contract.records import EventSink, SinkSpec
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ConfigError

LOAD_PLUGINS_ENV = "CONNECTORS_LOAD_PLUGINS"
LEGACY_LOAD_PLUGINS_ENV = "FORTNOX_CONNECTOR_LOAD_PLUGINS"  # still honoured
_RECORDS = {"register_connectors": Connector, "register_sinks": SinkSpec}

log = logging.getLogger(__name__)


class PluginLoadWarning(UserWarning):
    """An entry point could not be loaded or registered; the host carries on without it."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A registered plugin: its name, where it came from ("host" or "entry point"), and its package."""

    name: str
    source: str
    distribution: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedPlugin:
    """An entry point left out, and why (the exception's type and message)."""

    name: str
    reason: str


class ConnectorManager:
    """The connectors and sinks the loaded plugins offer, by name, and the observers to tell."""

    def __init__(self, pm: pluggy.PluginManager, plugins: Iterable[PluginInfo]) -> None:
        self._pm = pm
        self._plugins = tuple(plugins)
        self.skipped: tuple[SkippedPlugin, ...] = ()
        self._connectors: dict[str, Connector[Any]] = {}
        self._sinks: dict[str, SinkSpec] = {}

    @classmethod
    def load(cls, *, entry_points: bool = True, plugins: Iterable[object] = ()) -> ConnectorManager:
        """Register ``plugins``, then (if ``entry_points``) the installed entry points, and collect."""
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        infos = [PluginInfo(pm.register(p, _unique(pm, p)) or "", "host") for p in _new(pm, plugins)]
        pm.check_pending()
        installed: dict[str, EntryPoint] = {}
        skipped: list[SkippedPlugin] = []
        for ep in _selected_entry_points() if entry_points else ():
            try:
                name = _register_entry_point(pm, ep)
            except Exception as exc:  # any failure of a third-party plugin: skip it
                skipped.append(_skip(ep, exc))
                continue
            if name is not None:
                installed[name] = ep
                dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else (None, None)
                infos.append(PluginInfo(ep.name, "entry point", *dist))
        manager = cls(pm, infos)
        skipped += manager._collect(installed)
        manager.skipped = tuple(skipped)
        return manager

    def _collect(self, installed: Mapping[str, EntryPoint]) -> list[SkippedPlugin]:
        """Call each plugin's registration hooks on their own, to know who offered what."""
        offers: list[tuple[str, Any]] = []
        skipped: list[SkippedPlugin] = []
        for hook, record in _RECORDS.items():
            for impl in getattr(self._pm.hook, hook).get_hookimpls():
                try:
                    offers += [(impl.plugin_name, item) for item in _records(impl.function(), hook, record)]
                except Exception as exc:
                    if impl.plugin_name not in installed:
                        raise
                    self._pm.unregister(name=impl.plugin_name)
                    skipped.append(_skip(installed[impl.plugin_name], exc))
        owners: dict[tuple[str, str], str] = {}
        for plugin, item in offers:
            if self._pm.has_plugin(plugin):  # not skipped for another hook
                self._keep(owners, plugin, item)
        return skipped

    def _keep(self, owners: dict[tuple[str, str], str], plugin: str, item: Connector[Any] | SinkSpec) -> None:
        """Keep ``item`` under its name; a name taken before (by any plugin) is a ``ConfigError``."""
        if isinstance(item, SinkSpec):
            _claim(owners, ("sink", item.name), plugin, f"the sink {item.name!r}")
            self._sinks[item.name] = item
            return
        _claim(owners, ("connector", item.name), plugin, f"the connector {item.name!r}")
        for what, subs in (("trigger", item.triggers), ("action", item.actions)):
            for sub in subs:
                _claim(owners, (f"{item.name} {what}", sub.name), plugin, f"the {what} {sub.name!r}")
        self._connectors[item.name] = item

    # -- what is offered -------------------------------------------------------------------------------

    def plugins(self) -> tuple[PluginInfo, ...]:
        return self._plugins

    def connectors(self) -> list[Connector[Any]]:
        return list(self._connectors.values())

    def connector(self, name: str | None = None) -> Connector[Any]:
        """The connector ``name`` (``None``: the only one); unknown: a ``ConfigError`` listing them."""
        if name is None and len(self._connectors) == 1:
            return next(iter(self._connectors.values()))
        if name is not None and name in self._connectors:
            return self._connectors[name]
        raise unknown_name("connector", str(name), list(self._connectors))

    def sinks(self) -> list[SinkSpec]:
        return list(self._sinks.values())

    def sink(self, name: str) -> SinkSpec:
        if name not in self._sinks:
            raise unknown_name("sink", name, list(self._sinks))
        return self._sinks[name]

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
        """Tell every plugin that ``tenant`` has a new token (its expiry and scope only, never the token).

        Shaped as ``TenantSpec.on_token_refreshed``: pass ``manager.notify_token_refreshed`` there."""
        self._notify("on_token_refreshed", tenant=tenant, expires_at=expires_at, scope=frozenset(scope))

    def token_refreshed(self, tenant: str, token: Token) -> None:
        """``notify_token_refreshed`` shaped as an ``on_refresh(tenant, token)`` callback; the token stays."""
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


def _records(items: Iterable[object], hook: str, record: type) -> list[Any]:
    """What a registration hook yielded, each checked to be the hook's record type."""
    out = list(items)
    bad = next((i for i in out if not isinstance(i, record)), None)
    if bad is not None:
        raise TypeError(f"{hook} yielded {type(bad).__name__}, not {record.__name__}")
    return out


def _new(pm: pluggy.PluginManager, plugins: Iterable[object]) -> list[object]:
    out: list[object] = []
    for plugin in plugins:
        if not pm.is_registered(plugin) and all(plugin is not p for p in out):
            out.append(plugin)
    return out


def _register_entry_point(pm: pluggy.PluginManager, ep: EntryPoint) -> str | None:
    """Register ``ep``'s plugin (``None`` if already registered); pluggy refuses an unknown hook name."""
    plugin = ep.load()
    if pm.is_registered(plugin):
        return None
    name = pm.register(plugin, _unique(pm, plugin, ep.name)) or ep.name
    try:
        pm.check_pending()
    except Exception:
        pm.unregister(name=name)
        raise
    return name


def _skip(ep: EntryPoint, exc: Exception) -> SkippedPlugin:
    """Warn that the entry point ``ep`` is left out because of ``exc``, and say how to fix it."""
    reason = f"{type(exc).__name__}: {exc}"
    source = f", from {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
    warnings.warn(
        f"skipped the connectors plugin {ep.name!r} ({ep.value}{source}): {reason}. Fix: reinstall or "
        f"upgrade that package, or leave it out with {LOAD_PLUGINS_ENV}",
        PluginLoadWarning,
        stacklevel=4,
    )
    return SkippedPlugin(ep.name, reason)


def _claim(owners: dict[tuple[str, str], str], key: tuple[str, str], plugin: str, what: str) -> None:
    if key not in owners:
        owners[key] = plugin
        return
    first = owners[key]
    by = f"twice by plugin {plugin!r}" if first == plugin else f"by plugin {first!r} and by plugin {plugin!r}"
    raise ConfigError(
        f"{what} is registered {by}",
        field=key[0].split()[-1],
        hint=f"uninstall one of the two, or choose the entry points to load with {LOAD_PLUGINS_ENV}",
    )


def _selected_entry_points() -> list[EntryPoint]:
    """The group's entry points, each (name, target) once, filtered by ``CONNECTORS_LOAD_PLUGINS``.

    The variable (or the older ``FORTNOX_CONNECTOR_LOAD_PLUGINS``) is a comma-separated list of entry-point
    or distribution names (empty: none), as llm's ``LLM_LOAD_PLUGINS``."""
    env = os.environ.get(LOAD_PLUGINS_ENV, os.environ.get(LEGACY_LOAD_PLUGINS_ENV))
    wanted = None if env is None else {_norm(n) for n in env.split(",") if n.strip()}
    selected: dict[tuple[str, str], EntryPoint] = {}
    for ep in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else ""
        if wanted is None or _norm(ep.name) in wanted or _norm(dist) in wanted:
            selected.setdefault((ep.name, ep.value), ep)  # the same distribution twice on sys.path: once
    return list(selected.values())


def _norm(name: str) -> str:
    """Compare package names as packaging does (``Fortnox_Connector`` = ``fortnox-connector``)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _unique(pm: pluggy.PluginManager, plugin: object, name: str | None = None) -> str:
    base = name or str(getattr(plugin, "__name__", None) or type(plugin).__name__)
    candidate, n = base, 1
    while pm.has_plugin(candidate):
        n += 1
        candidate = f"{base}#{n}"
    return candidate
