"""The host-facing contract: hookspecs, the typed records hooks yield, the manager, the state a host keeps.

A host needs only this package: ``ConnectorManager.load()`` finds the installed connectors (entry-point
group ``"connectors"``) and offers their triggers, actions and sinks by name (docs/contract.md).
"""

from fortnox_connector.contract.hookspecs import ENTRY_POINT_GROUP, PROJECT, hookimpl, hookspec
from fortnox_connector.contract.manager import (
    LOAD_PLUGINS_ENV,
    ConnectorManager,
    PluginInfo,
    PluginLoadWarning,
    SkippedPlugin,
)
from fortnox_connector.contract.records import (
    ActionSpec,
    ConnectorDefinition,
    Event,
    EventSink,
    PollResult,
    RunSummary,
    SinkSpec,
    TenantContext,
    TriggerSpec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "PROJECT",
    "ActionSpec",
    "ConnectorDefinition",
    "ConnectorManager",
    "Event",
    "EventSink",
    "PluginInfo",
    "PluginLoadWarning",
    "PollResult",
    "RunSummary",
    "SinkSpec",
    "SkippedPlugin",
    "TenantContext",
    "TriggerSpec",
    "hookimpl",
    "hookspec",
]
