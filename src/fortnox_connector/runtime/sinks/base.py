"""What the runtime's sinks share; a sink is the contract's ``EventSink`` (deliver a batch or raise).

Delivery is all-or-nothing from the runtime's side: if ``deliver`` raises, none of the batch counts as
delivered, its events stay in the outbox and are sent again later (receivers dedupe on ``dedup_key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from fortnox_connector.contract.records import EventSink
from fortnox_connector.errors import ConfigError

Sink = EventSink  # the contract's one definition: ``deliver(events)`` (all or ``DeliveryError``), ``close()``


def check_options(
    sink: str, options: Mapping[str, Any], allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
) -> None:
    """Refuse unknown or missing options, naming them and the ones that exist."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"the {sink} sink has no option {', '.join(unknown)}",
            field=unknown[0],
            hint=f"its options are: {', '.join(sorted(allowed)) or 'none'}",
        )
    missing = sorted(required - set(options))
    if missing:
        raise ConfigError(
            f"the {sink} sink needs the option {', '.join(missing)}",
            field=missing[0],
            hint=f"give {missing[0]}=… when choosing the {sink} sink",
        )
