"""The triggers a Pandium run polls, in order: ``payment_received``, then ``invoice_paid``.

Tests inject their own ``TriggerSpec``s; a real run builds them from the trigger modules (each has ``NAME``,
``DESCRIPTION``, ``EVENT_SCHEMA_PATH`` and ``poll``). The event schema is not needed to run, so it is left
empty here: the declaration carries it for hosts.
"""

from __future__ import annotations

import importlib
from typing import Final

from fortnox_connector.contract.records import TriggerSpec
from fortnox_connector.errors import ConfigError

TRIGGER_NAMES: Final = ("payment_received", "invoice_paid")
CONNECTOR: Final = "fortnox"


def default_triggers(tenant: str) -> list[TriggerSpec]:
    specs = []
    for name in TRIGGER_NAMES:
        try:
            module = importlib.import_module(f"fortnox_connector.triggers.{name}")
        except ImportError:
            raise ConfigError(
                f"the trigger {name!r} is not installed",
                field=name,
                tenant=tenant,
                hint="install a release of fortnox-connector that includes it.",
            ) from None
        specs.append(
            TriggerSpec(
                connector=CONNECTOR,
                name=str(module.NAME),
                description=str(module.DESCRIPTION),
                event_schema={},
                poll=module.poll,
            )
        )
    return specs
