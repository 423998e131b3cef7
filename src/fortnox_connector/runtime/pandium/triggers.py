"""The triggers a Pandium run polls, in order: ``payment_received``, then ``invoice_paid``.

They come from the plugin contract (the installed connector), as any host gets them; tests inject their own.
"""

from __future__ import annotations

from typing import Any, Final

from fortnox_connector.contract.records import TriggerSpec
from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.catalog import load_catalog

TRIGGER_NAMES: Final = ("payment_received", "invoice_paid")


def default_triggers(tenant: str) -> list[TriggerSpec[Any]]:
    try:
        connector = load_catalog().connector
        return [connector.trigger(name) for name in TRIGGER_NAMES]
    except ConfigError as exc:
        raise exc.with_tenant(tenant) from None
