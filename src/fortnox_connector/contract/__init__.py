"""The host-facing contract: it names no connector and imports none.

A host needs only this package: ``ConnectorManager.load()`` finds the installed connectors (entry-point
group ``"connectors"``); ``manager.connector(name).open(TenantSpec(...))`` gives a session whose triggers
are polled and actions run by name (docs/contract.md). Errors are the types below, naming tenant and fix.
"""

from fortnox_connector.contract.connector import BoundAction, BoundTrigger, Connector, Session
from fortnox_connector.contract.hookspecs import ENTRY_POINT_GROUP, PROJECT, hookimpl, hookspec
from fortnox_connector.contract.manager import (
    LOAD_PLUGINS_ENV,
    ConnectorManager,
    PluginInfo,
    PluginLoadWarning,
    SkippedPlugin,
)
from fortnox_connector.contract.rate import MemoryRateWindow, RateWindow, Slot
from fortnox_connector.contract.records import (
    ActionSpec,
    CheckResult,
    Event,
    EventSink,
    PollResult,
    RunSummary,
    SinkSpec,
    TenantSpec,
    TriggerSpec,
)
from fortnox_connector.contract.state import (
    IdempotencyRecord,
    MemoryStateStore,
    StateStore,
    Token,
)
from fortnox_connector.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    DeliveryError,
    ReconnectRequired,
    TokenExpired,
)
from fortnox_connector.secrets import Secret

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "PROJECT",
    "ActionSpec",
    "AuthError",
    "BoundAction",
    "BoundTrigger",
    "CheckResult",
    "ConfigError",
    "Connector",
    "ConnectorError",
    "ConnectorManager",
    "DeliveryError",
    "Event",
    "EventSink",
    "IdempotencyRecord",
    "MemoryRateWindow",
    "MemoryStateStore",
    "PluginInfo",
    "PluginLoadWarning",
    "PollResult",
    "RateWindow",
    "ReconnectRequired",
    "RunSummary",
    "Secret",
    "Session",
    "SinkSpec",
    "SkippedPlugin",
    "Slot",
    "StateStore",
    "TenantSpec",
    "Token",
    "TokenExpired",
    "TriggerSpec",
    "hookimpl",
    "hookspec",
]
