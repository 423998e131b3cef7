"""What a sink is: something that delivers a batch of events, or raises ``DeliveryError``.

Delivery is all-or-nothing from the runtime's side: if ``deliver`` raises, none of the batch counts as
delivered, its events stay in the outbox and are sent again later (receivers dedupe on ``dedup_key``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple, Protocol

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConfigError


class Sink(Protocol):
    def deliver(self, events: Sequence[Event]) -> None:
        """Deliver every event or raise ``fortnox_connector.errors.DeliveryError``."""
        ...

    def close(self) -> None: ...


SinkFactory = Callable[[Mapping[str, Any]], Sink]


class SinkInfo(NamedTuple):
    """A sink the runtime offers: ``factory(options)`` builds it (options from the CLI or a config file)."""

    name: str
    description: str
    factory: SinkFactory


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
