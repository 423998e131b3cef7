"""Small plugins for the manager's tests (importable by entry points the tests fake)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fortnox_connector.contract import (
    ActionSpec,
    ConnectorDefinition,
    Event,
    PollResult,
    SinkSpec,
    TenantContext,
    TriggerSpec,
    hookimpl,
)


def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
    return PollResult(events=(), cursor=cursor or "0", more=False)


def echo(ctx: TenantContext, data: Any) -> Any:
    return dict(data)


class NullSink:
    def deliver(self, events: Sequence[Event]) -> None:
        """Drops them."""

    def close(self) -> None:
        """Nothing to release."""


class Acme:
    """A well-formed connector with one trigger, one action and one sink."""

    @hookimpl
    def register_connectors(self) -> Iterator[ConnectorDefinition]:
        yield ConnectorDefinition("acme", "Acme", "1.0", "Acme's ledger")

    @hookimpl
    def register_triggers(self) -> Iterator[TriggerSpec]:
        yield TriggerSpec("acme", "ping", "a ping", {"type": "object"}, poll)

    @hookimpl
    def register_actions(self) -> Iterator[ActionSpec]:
        yield ActionSpec("acme", "echo", "its input", {"type": "object"}, {"type": "object"}, echo)

    @hookimpl
    def register_sinks(self) -> Iterator[SinkSpec]:
        yield SinkSpec("null", "drops events", lambda options: NullSink())


class RaisingHook:
    @hookimpl
    def register_triggers(self) -> Iterator[TriggerSpec]:
        raise RuntimeError("the plugin's database is gone")


class WrongRecord:
    @hookimpl
    def register_actions(self) -> Iterator[object]:
        yield {"name": "not a record"}


class UnknownHook:
    @hookimpl
    def register_widgets(self) -> None:
        """No such hook."""


class OrphanTrigger:
    @hookimpl
    def register_triggers(self) -> Iterator[TriggerSpec]:
        yield TriggerSpec("nobody", "ping", "a ping", {"type": "object"}, poll)


acme = Acme()
raising_hook = RaisingHook()
wrong_record = WrongRecord()
unknown_hook = UnknownHook()
orphan_trigger = OrphanTrigger()
