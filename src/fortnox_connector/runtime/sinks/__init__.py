"""Event sinks the runtime delivers to: stdout and file (JSON Lines) and a signed HTTP webhook.

``SINKS`` lists them as ``(name, description, factory(options) -> sink)``; ``make_sink`` builds one by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.sinks.base import Sink, SinkFactory, SinkInfo
from fortnox_connector.runtime.sinks.encoding import event_from_json, event_to_dict, event_to_json
from fortnox_connector.runtime.sinks.stream import FileSink, StdoutSink, file_sink, stdout_sink
from fortnox_connector.runtime.sinks.webhook import WebhookSink, sign, verify_signature, webhook_sink

SINKS: tuple[SinkInfo, ...] = (
    SinkInfo("stdout", "each event as a JSON line on standard output", stdout_sink),
    SinkInfo("file", "each event as a JSON line appended to a file (path=…), fsynced", file_sink),
    SinkInfo(
        "webhook",
        "each event POSTed as JSON to a URL (url=…, secret=…), HMAC-signed, retried with backoff",
        webhook_sink,
    ),
)


def make_sink(name: str, options: Mapping[str, Any] | None = None) -> Sink:
    """Build the sink called ``name``; an unknown name is a ``ConfigError`` listing the sinks."""
    for info in SINKS:
        if info.name == name:
            return info.factory(options or {})
    raise ConfigError(
        f"there is no sink called {name!r}",
        field="sink",
        hint=f"choose one of: {', '.join(i.name for i in SINKS)}",
    )


__all__ = [
    "SINKS",
    "FileSink",
    "Sink",
    "SinkFactory",
    "SinkInfo",
    "StdoutSink",
    "WebhookSink",
    "event_from_json",
    "event_to_dict",
    "event_to_json",
    "make_sink",
    "sign",
    "verify_signature",
]
