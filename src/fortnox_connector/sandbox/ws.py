"""The sandbox's WebSocket endpoint (``/topics-v1``), speaking Fortnox's commands; built on ``websockets``.

One connection carries many tenants and topics (Fortnox asks for one connection per app, never one per
tenant). Commands, as Fortnox and two independent clients have them (docs/stream.md):

- ``add-tenants-v1`` ``{"clientSecret", "accessTokens": [...]}`` → ``{"response", "result": "ok",
  "tenantIds": {<token as sent>: <tenant id>}, "invalidTokens": [...]}``. A token may be sent bare or as
  ``"Bearer …"`` (clients do both). A wrong client secret → ``result: "error"`` (**sandbox choice**).
  Adding a token of a tenant already added replaces its token (a re-add after a refresh).
- ``remove-tenants-v1`` with ``{"tenants": [ids]}`` or ``{"accessTokens": [...]}`` (both shapes exist in
  other clients; unconfirmed which Fortnox takes: both are accepted).
- ``list-tenants-v1`` → ``tenantIds``: the ids added.
- ``add-topics-v1`` ``{"topics": [{"topic", "offset"?}]}``: with an offset, delivery resumes **at** that
  event (inclusive: it comes again — at-least-once); without, from the next new event. An unknown topic is
  listed in ``invalidTopics``; an offset out of retention answers ``result: "error"`` with
  ``invalidOffsets`` (**sandbox choice**: Fortnox's answer is unconfirmed).
- ``subscribe-v1``: events start to flow, one JSON message each, in topic order.

Tokens are checked with the sandbox's OAuth state: unknown, revoked, expired or another client's token is
an invalid token. While subscribed, a tenant's events go out only while the token it was added with is
valid (``expire_subscriptions``, **sandbox choice**, the stricter of the two possibilities: whether Fortnox
keeps streaming after the hourly expiry is unconfirmed) — so a client must re-add a tenant after each
refresh.

Faults (``FeedServer`` methods, also on the control API ``/_sandbox/feed/faults``): ``drop`` (every
connection is cut without a close frame, now or after N more events), ``duplicate`` (the next N events are
sent twice), ``slow_consumer`` (every connection is closed with 1008 "slow consumer", as a server does
with a consumer that fell behind; with ``slow_consumer_lag`` set that happens by itself to a connection more
than that many events behind), ``expire`` (every offset so far falls out of retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .feed import TOPICS, FeedEvent, FeedLog, OffsetExpired

if TYPE_CHECKING:
    from .server import Sandbox

PATH = "/topics-v1"
T = TypeVar("T")


@dataclass
class FeedStats:
    connections: int = 0
    commands: int = 0
    events_sent: int = 0
    duplicates_sent: int = 0
    drops: int = 0
    slow_consumer_kicks: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(eq=False)
class _Session:
    ws: ServerConnection
    tenants: dict[int, str] = field(default_factory=dict)  # tenant id -> bare access token
    positions: dict[str, int] = field(default_factory=dict)  # topic -> next sequence number to send
    subscribed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pump: asyncio.Task[None] | None = None


def _bare(token: str) -> str:
    text = token.strip()
    return text[7:].strip() if text.lower().startswith("bearer ") else text


class FeedServer:
    """Serves ``/topics-v1`` for one ``Sandbox`` on its own thread and event loop."""

    def __init__(
        self,
        sandbox: Sandbox,
        log: FeedLog,
        *,
        expire_subscriptions: bool = True,
        slow_consumer_lag: int | None = None,
    ) -> None:
        self.sb = sandbox
        self.log = log
        self.expire_subscriptions = expire_subscriptions
        self.slow_consumer_lag = slow_consumer_lag
        self.stats = FeedStats()
        self.url = ""
        self._sessions: set[_Session] = set()
        self._kicks: set[asyncio.Future[None]] = set()
        self._duplicate = 0
        self._drop_after: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        log.listeners.append(self._published)

    # ---- lifecycle (any thread)
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(host, port, ready)),
            name="fortnox-sandbox-feed",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the sandbox feed did not start")
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with contextlib.suppress(ValueError):
            self.log.listeners.remove(self._published)

    async def _main(self, host: str, port: int, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, host, port, write_limit=4096, compression=None) as server:
            bound = server.sockets[0].getsockname()
            self.url = f"ws://{bound[0]}:{bound[1]}{PATH}"
            ready.set()
            await self._stop.wait()
            for s in list(self._sessions):
                s.ws.transport.abort()

    def _call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if self._loop is None:
            raise RuntimeError("the sandbox feed is not running: start it with Sandbox.serve_feed()")
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout=10)

    # ---- faults and inspection (any thread)
    def drop(self, after: int | None = None) -> None:
        """Cut every connection without a close frame, now or after ``after`` more events are sent."""
        if after is not None:
            self._drop_after = after
            return

        async def go() -> None:
            self._drop_now()

        self._call(go)

    def duplicate(self, count: int = 1) -> None:
        """Send each of the next ``count`` events twice (at-least-once delivery)."""
        self._duplicate += count

    def kick_slow_consumers(self) -> int:
        """Close every connection with 1008 "slow consumer"; returns how many."""

        async def go() -> int:
            sessions = list(self._sessions)
            for s in sessions:
                await self._kick(s)
            return len(sessions)

        return self._call(go)

    def connections(self) -> list[dict[str, Any]]:
        async def go() -> list[dict[str, Any]]:
            return [
                {"tenants": sorted(s.tenants), "topics": sorted(s.positions), "subscribed": s.subscribed}
                for s in self._sessions
            ]

        return self._call(go)

    # ---- the protocol
    async def _handler(self, ws: ServerConnection) -> None:
        if ws.request is None or ws.request.path.split("?")[0] != PATH:
            await ws.close(1008, f"unknown path; use {PATH}")
            return
        session = _Session(ws)
        self._sessions.add(session)
        self.stats.connections += 1
        try:
            async for raw in ws:
                self.stats.commands += 1
                answer = self._command(session, raw)
                async with session.send_lock:
                    await ws.send(json.dumps(answer))
                if session.subscribed and session.pump is None:
                    session.pump = asyncio.create_task(self._pump(session))
                session.wake.set()
        except ConnectionClosed:
            pass
        finally:
            self._sessions.discard(session)
            if session.pump is not None:
                session.pump.cancel()

    def _command(self, s: _Session, raw: str | bytes) -> dict[str, Any]:
        try:
            msg = json.loads(raw)
        except ValueError:
            return {"response": None, "result": "error", "error": "the message is not JSON"}
        command = msg.get("command") if isinstance(msg, dict) else None
        handlers: dict[str, Callable[[_Session, dict[str, Any]], dict[str, Any]]] = {
            "add-tenants-v1": self._add_tenants,
            "remove-tenants-v1": self._remove_tenants,
            "list-tenants-v1": lambda s, _m: {"result": "ok", "tenantIds": sorted(s.tenants)},
            "add-topics-v1": self._add_topics,
            "subscribe-v1": self._subscribe,
        }
        handler = handlers.get(str(command))
        if handler is None:
            return {"response": command, "result": "error", "error": f"unknown command {command!r}"}
        return {"response": command, **handler(s, msg)}

    def _add_tenants(self, s: _Session, msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("clientSecret") != self.sb.client_secret:
            return {"result": "error", "error": "invalid client secret"}
        ids: dict[str, int] = {}
        invalid: list[str] = []
        now = self.sb.now()
        for sent in msg.get("accessTokens") or []:
            token = _bare(str(sent))
            grant = self.sb.oauth.lookup(token, now)
            if grant is None or grant.client_id != self.sb.client_id:
                invalid.append(str(sent))
                continue
            s.tenants[grant.tenant_id] = token
            ids[str(sent)] = grant.tenant_id
        return {"result": "ok", "tenantIds": ids, "invalidTokens": invalid}

    def _remove_tenants(self, s: _Session, msg: dict[str, Any]) -> dict[str, Any]:
        for tenant_id in msg.get("tenants") or []:
            s.tenants.pop(int(tenant_id), None)
        tokens = {_bare(str(t)) for t in msg.get("accessTokens") or []}
        for tenant_id in [t for t, token in s.tenants.items() if token in tokens]:
            del s.tenants[tenant_id]
        return {"result": "ok"}

    def _add_topics(self, s: _Session, msg: dict[str, Any]) -> dict[str, Any]:
        invalid_topics: list[str] = []
        invalid_offsets: list[str] = []
        for item in msg.get("topics") or []:
            topic = str(item.get("topic")) if isinstance(item, dict) else str(item)
            if topic not in TOPICS:
                invalid_topics.append(topic)
                continue
            offset = item.get("offset") if isinstance(item, dict) else None
            if offset is None:
                s.positions[topic] = self.log.end(topic)
                continue
            try:
                s.positions[topic] = self.log.resolve(topic, str(offset))
            except OffsetExpired:
                invalid_offsets.append(topic)
        if invalid_offsets:
            return {
                "result": "error",
                "error": "offset out of retention",
                "invalidOffsets": invalid_offsets,
                "invalidTopics": invalid_topics,
            }
        return {"result": "ok", "invalidTopics": invalid_topics}

    def _subscribe(self, s: _Session, _msg: dict[str, Any]) -> dict[str, Any]:
        if not s.positions:
            return {"result": "error", "error": "add a topic (add-topics-v1) before subscribe-v1"}
        s.subscribed = True
        return {"result": "ok"}

    # ---- delivery
    async def _pump(self, s: _Session) -> None:
        """Send every topic's events from the session's positions on, then wait for more."""
        while True:
            s.wake.clear()
            progressed = False
            for topic in list(s.positions):
                batch = self.log.read(topic, s.positions[topic])
                for event in batch:
                    s.positions[topic] = event.seq + 1
                    if self._deliverable(s, event):
                        await self._send(s, event)
                progressed = progressed or bool(batch)
            if not progressed:
                await s.wake.wait()

    def _deliverable(self, s: _Session, event: FeedEvent) -> bool:
        token = s.tenants.get(event.tenant_id)
        if token is None:
            return False
        return not self.expire_subscriptions or self.sb.oauth.lookup(token, self.sb.now()) is not None

    async def _send(self, s: _Session, event: FeedEvent) -> None:
        text = json.dumps(event.wire())
        times = 1
        if self._duplicate > 0:
            self._duplicate -= 1
            times = 2
            self.stats.duplicates_sent += 1
        async with s.send_lock:
            for _ in range(times):
                await s.ws.send(text)
        self.stats.events_sent += 1
        if self._drop_after is not None:
            self._drop_after -= 1
            if self._drop_after <= 0:
                self._drop_after = None
                self._drop_now()

    def _drop_now(self) -> None:
        for s in list(self._sessions):
            self.stats.drops += 1
            s.ws.transport.abort()

    async def _kick(self, s: _Session) -> None:
        self.stats.slow_consumer_kicks += 1
        if s.pump is not None:
            s.pump.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(s.ws.close(1008, "slow consumer"), timeout=1)
        s.ws.transport.abort()

    def _published(self, _event: FeedEvent) -> None:
        """Called from the publishing thread: wake every pump (and check lag) on the feed's loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for s in list(self._sessions):
            s.wake.set()
            if self.slow_consumer_lag is not None and s.subscribed and self._lag(s) > self.slow_consumer_lag:
                task = asyncio.ensure_future(self._kick(s))
                self._kicks.add(task)
                task.add_done_callback(self._kicks.discard)

    def _lag(self, s: _Session) -> int:
        return max((self.log.end(t) - pos for t, pos in s.positions.items()), default=0)
