"""Small plugins for the manager's tests (importable by entry points the tests fake)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext

from fortnox_connector.contract import (
    Connector,
    Event,
    PollResult,
    SinkSpec,
    TenantSpec,
    TriggerSpec,
    hookimpl,
)
from tests.contract.acme import CONNECTOR as ACME


def poll(ctx: object, cursor: str | None) -> PollResult:
    return PollResult(events=(), cursor=cursor or "0", more=False)


class NullSink:
    def deliver(self, events: Sequence[Event]) -> None:
        """Drops them."""

    def close(self) -> None:
        """Nothing to release."""


class Acme:
    """A well-formed plugin: the acme connector and one sink."""

    @hookimpl
    def register_connectors(self) -> Iterator[Connector[object]]:
        yield ACME  # type: ignore[misc]

    @hookimpl
    def register_sinks(self) -> Iterator[SinkSpec]:
        yield SinkSpec("null", "drops events", lambda options: NullSink())


def no_context(tenant: TenantSpec) -> AbstractContextManager[object]:
    return nullcontext(object())


def bare(name: str, *triggers: str) -> Connector[object]:
    """A connector with no context of its own and the given ping-like triggers."""
    specs = tuple(TriggerSpec(t, "a ping", {"type": "object"}, poll) for t in triggers)
    return Connector(name, name.title(), "1.0", "a test connector", no_context, triggers=specs)


class RaisingHook:
    @hookimpl
    def register_connectors(self) -> Iterator[Connector[object]]:
        raise RuntimeError("the plugin's database is gone")


class WrongRecord:
    @hookimpl
    def register_connectors(self) -> Iterator[object]:
        yield {"name": "not a record"}


class UnknownHook:
    @hookimpl
    def register_widgets(self) -> None:
        """No such hook."""


acme = Acme()
raising_hook = RaisingHook()
wrong_record = WrongRecord()
unknown_hook = UnknownHook()
