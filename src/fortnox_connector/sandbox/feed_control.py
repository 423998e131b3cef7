"""Control routes of the WebSocket feed: ``/_sandbox/feed`` (state) and ``/_sandbox/feed/faults``.

``POST /_sandbox/feed/faults`` with ``{"kind": …}``: ``drop`` (``after``: N more events first),
``duplicate`` (``count``, default 1), ``slow_consumer`` (answers ``kicked``), ``expire`` (every offset so
far falls out of retention). See ws.py for what each does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Sandbox

FEED_FAULTS = ("drop", "duplicate", "slow_consumer", "expire")


def feed_state(sb: Sandbox) -> dict[str, Any]:
    server = sb.feed_server
    return {
        "url": sb.feed_url,
        "events": {"invoices": sb.feed.end("invoices")},
        "stats": server.stats.as_dict() if server is not None else None,
        "connections": server.connections() if server is not None else [],
    }


def feed_fault(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """Apply one fault; raises ``ValueError`` (a 400) for an unknown kind or a feed that is not served."""
    kind = str(body.get("kind"))
    if kind not in FEED_FAULTS:
        raise ValueError(f"unknown feed fault {kind!r}; use one of {FEED_FAULTS}")
    if kind == "expire":
        sb.feed.expire()
        return {"expired": True}
    server = sb.feed_server
    if server is None:
        raise ValueError("the feed is not served: start the sandbox with feed=True or call serve_feed()")
    if kind == "drop":
        after = body.get("after")
        server.drop(int(after) if after is not None else None)
        return {"drop": after if after is not None else "now"}
    if kind == "duplicate":
        server.duplicate(int(body.get("count", 1)))
        return {"duplicate": int(body.get("count", 1))}
    return {"kicked": server.kick_slow_consumers()}
