"""Event sinks the runtime delivers to: stdout and file (JSON Lines) and a signed HTTP webhook.

This module is a plugin of the contract: the runtime registers it (``catalog.load_manager``), and its
``register_sinks`` hook offers ``SINKS`` next to the sinks other plugins add. ``make_sink`` builds one by
name from all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fortnox_connector.contract.hookspecs import hookimpl
from fortnox_connector.contract.records import SinkSpec
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.sinks.encoding import event_from_json, event_to_dict, event_to_json
from fortnox_connector.runtime.sinks.stream import FileSink, StdoutSink, file_sink, stdout_sink
from fortnox_connector.runtime.sinks.webhook import (
    ReplayGuard,
    WebhookSink,
    sign,
    verify_signature,
    webhook_sink,
)

SINKS: tuple[SinkSpec, ...] = (
    SinkSpec("stdout", "each event as a JSON line on standard output", stdout_sink),
    SinkSpec("file", "each event as a JSON line appended to a file (path=…), fsynced", file_sink),
    SinkSpec(
        "webhook",
        "each event POSTed as JSON to a URL (url=…, secret=…), HMAC-signed, retried with backoff",
        webhook_sink,
    ),
)


@hookimpl
def register_sinks() -> Iterator[SinkSpec]:
    """The built-in sinks, offered through the plugin contract like any other plugin's."""
    yield from SINKS


def make_sink(name: str, options: Mapping[str, Any] | None = None) -> Sink:
    """Build the sink called ``name`` (built-in or from a plugin); an unknown name is a ``ConfigError``."""
    from fortnox_connector.runtime.catalog import load_manager  # it registers this module

    return load_manager().make_sink(name, options)


__all__ = [
    "SINKS",
    "FileSink",
    "ReplayGuard",
    "Sink",
    "StdoutSink",
    "WebhookSink",
    "event_from_json",
    "event_to_dict",
    "event_to_json",
    "make_sink",
    "register_sinks",
    "sign",
    "verify_signature",
]
