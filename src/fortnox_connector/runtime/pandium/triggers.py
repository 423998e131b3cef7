"""The triggers a Pandium run polls, in order: ``payment_received``, then ``invoice_paid``.

They come from the plugin contract (``ConnectorManager``), as any host gets them; tests inject their own.
"""

from __future__ import annotations

from typing import Final

from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.contract.records import TriggerSpec
from fortnox_connector.errors import ConfigError

TRIGGER_NAMES: Final = ("payment_received", "invoice_paid")


def default_triggers(tenant: str) -> list[TriggerSpec]:
    manager = ConnectorManager.load()
    try:
        return [manager.trigger(name) for name in TRIGGER_NAMES]
    except ConfigError as exc:
        raise exc.with_tenant(tenant) from None
