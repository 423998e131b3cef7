"""Fortnox's WebSocket feed on the wire: the endpoint, the commands, the answers and the events.

Facts and sources in docs/stream.md (``shared/fortnox-api.md`` §7). What is unconfirmed is handled both
ways here: tokens go out as ``"Bearer <token>"`` (what the recent clients send) and the answer's
``tenantIds`` is read by the string we sent; ``remove-tenants-v1`` sends tenant ids (``tenants``); an
answer whose ``result`` is not ``ok`` is an error whatever else it carries; the event ``timestamp`` is
parsed when it is ISO 8601 with a zone and left out otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fortnox_connector.secrets import Secret

FEED_URL = "wss://ws.fortnox.se/topics-v1"
PAYMENT_BOOKKEEP = "invoicepayment-bookkeep-v1"
PAYMENT_DELETED = "invoicepayment-deleted-v1"


class FeedProtocolError(ValueError):
    """The feed sent something this client cannot read (not JSON, not an object, a field missing)."""


@dataclass(frozen=True, slots=True)
class FeedEvent:
    topic: str
    offset: str
    type: str
    tenant_id: int
    entity_id: str
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class FeedAnswer:
    """The answer to a command: ``ok`` or not, and the rest of the message."""

    response: str
    ok: bool
    body: dict[str, Any]

    @property
    def error(self) -> str:
        return str(self.body.get("error") or self.body.get("message") or self.body.get("result") or "")


def bearer(token: Secret) -> str:
    return f"Bearer {token.reveal()}"


def add_tenants(client_secret: Secret, tokens: list[str]) -> str:
    """``add-tenants-v1`` with the tokens exactly as they will be looked up in the answer."""
    return json.dumps(
        {"command": "add-tenants-v1", "clientSecret": client_secret.reveal(), "accessTokens": tokens}
    )


def remove_tenants(tenant_ids: list[int]) -> str:
    return json.dumps({"command": "remove-tenants-v1", "tenants": tenant_ids})


def add_topics(topics: dict[str, str | None]) -> str:
    """``add-topics-v1``; a topic with an offset resumes there."""
    items = [{"topic": t, **({"offset": o} if o is not None else {})} for t, o in topics.items()]
    return json.dumps({"command": "add-topics-v1", "topics": items})


def subscribe() -> str:
    return json.dumps({"command": "subscribe-v1"})


def parse(raw: str | bytes) -> FeedEvent | FeedAnswer:
    """One message from the feed: an event (it has a ``topic``) or a command's answer."""
    try:
        msg = json.loads(raw)
    except ValueError:
        raise FeedProtocolError("the feed sent a message that is not JSON") from None
    if not isinstance(msg, dict):
        raise FeedProtocolError("the feed sent a message that is not a JSON object")
    if "response" in msg:
        return FeedAnswer(str(msg["response"]), str(msg.get("result", "")).lower() == "ok", msg)
    try:
        return FeedEvent(
            topic=str(msg["topic"]),
            offset=str(msg["offset"]),
            type=str(msg["type"]),
            tenant_id=int(msg["tenantId"]),
            entity_id=str(msg["entityId"]),
            timestamp=_timestamp(msg.get("timestamp")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FeedProtocolError(f"the feed sent an event without a readable {exc}") from None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
