"""Stream trigger sources: one long-lived listener per app that pushes events for many tenants.

Beside poll (``poll(ctx, cursor) -> PollResult``), a connector may offer a **stream**: a source that holds
one connection for all tenants of one app (one client id) and yields what happened as it happens. The
shape is connector-agnostic; the host's loop is::

    source = spec.open(StreamOptions(app=client_id, secret=client_secret))
    for ctx, tokens in tenants:
        source.add_tenant(ctx, tokens)             # later: add_tenant / remove_tenant / token_refreshed
    async for item in source.items(checkpoint):    # checkpoint: the last one the host committed, or None
        if isinstance(item, StreamBatch):
            deliver(item.events)                   # may block: the source waits (back-pressure)
            commit(item.checkpoint)                # only after the events before it were delivered
        elif isinstance(item, TenantTrouble):
            pause(item.tenant, item.error)         # the others keep streaming
        elif isinstance(item, CatchUp):
            run_polls(item.tenants)                # the stream lost its place: poll fills the gap
        elif isinstance(item, StreamStatus):
            show(item)

Rules a source keeps (the poll contract's, moved to a stream):

- A checkpoint is opaque and covers every event yielded before it; the host commits it only after
  delivering them, so a crash re-sends, never skips, and every event carries a stable ``dedup_key``.
- The source reads nothing more while the host holds an item (the async iterator is not advanced), so a
  slow sink slows the source instead of losing events.
- It never yields an event twice for one source-side fact it already yielded before a checkpoint the host
  committed (at-least-once delivery and reconnects are its problem, not the sink's).
- When it cannot resume where the checkpoint says (the feed no longer keeps it) it yields ``CatchUp``
  before anything newer, and says why.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConnectorError
from fortnox_connector.secrets import Secret


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """Events to deliver, then ``checkpoint`` to commit. ``events`` may be empty (the place still moves)."""

    events: Sequence[Event]
    checkpoint: str
    source_time: float | None = None  # epoch seconds the source says the change happened, when known


@dataclass(frozen=True, slots=True)
class TenantTrouble:
    """One tenant cannot stream (e.g. its token is refused); the others go on. ``error`` names the fix."""

    tenant: str
    error: ConnectorError


@dataclass(frozen=True, slots=True)
class CatchUp:
    """The stream cannot resume at the checkpoint for ``tenants``: poll them to fill the gap."""

    tenants: tuple[str, ...]
    reason: str


StreamState = Literal["connecting", "streaming", "disconnected", "stopped"]


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """How the listener is doing, for status lines."""

    state: StreamState
    tenants: int
    detail: str = ""


StreamItem = StreamBatch | TenantTrouble | CatchUp | StreamStatus


class TenantTokens(Protocol):
    """A tenant's current access token, as the host's token provider gives it (refreshing when due)."""

    def access_token(self) -> Secret: ...

    def invalidate(self, token: Secret) -> None:
        """The token was refused: the next ``access_token()`` must get a new one (or raise)."""
        ...


class StreamSource(Protocol):
    """One listener for every tenant of one app (see the module docstring for the host's loop)."""

    def add_tenant(self, ctx: Any, tokens: TenantTokens) -> None:
        """Stream this tenant too (now, or on the next connection); ``ctx`` is the connector's own context
        for the tenant (``session.context``), ``tokens`` the token provider its client uses."""
        ...

    def remove_tenant(self, tenant: str) -> None:
        """Stop streaming this tenant."""
        ...

    def token_refreshed(self, tenant: str) -> None:
        """The tenant's access token changed: hand the new one to the feed before the old one expires."""
        ...

    def items(self, checkpoint: str | None) -> AsyncGenerator[StreamItem, None]:
        """Run until ``aclose()``: connect, reconnect with backoff, and yield what happens."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """What a host gives a stream: the app (client id) and its secret; ``url`` overrides the endpoint."""

    app: str
    secret: Secret
    url: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # source-specific tuning (backoff, …)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A stream a connector offers (nested in its ``Connector``); ``triggers`` names the triggers whose
    events it yields; ``connector`` is that connector's name (a checkpoint's key carries it)."""

    connector: str
    name: str
    description: str
    triggers: tuple[str, ...]
    open: Callable[[StreamOptions], StreamSource]
