"""``FortnoxStream``: one WebSocket listener for every tenant of one Fortnox app (``contract.StreamSource``).

Fortnox asks for one connection per app, never one per tenant (§7). On each connection:

1. ``add-tenants-v1`` with every active tenant's access token; the answer maps tokens to Fortnox tenant
   ids. A refused token is refreshed once (``invalidate`` + ``access_token``) and sent again; refused
   again, or a refresh that fails, is a ``TenantTrouble`` for that tenant alone (the host pauses it with
   the reconnect message) and the others stream on.
2. ``add-topics-v1`` ``invoices`` with the checkpoint's offset. An offset older than the feed keeps (the
   checkpoint's ``at`` says so, or Fortnox refuses it) → ``CatchUp`` for every tenant with the reason, then
   the topic from the newest event: the poll fills the gap, nothing is skipped silently.
3. ``subscribe-v1``, then events: one ``StreamBatch`` per feed event (its events, then the checkpoint that
   covers it). The feed event at the offset resumed from is skipped (whether Fortnox re-sends it is
   unconfirmed); a duplicate is recognised by the seen sets and costs no request.

Tokens: a watcher asks each tenant's provider for its token every ``token_check_s`` (or at once after
``token_refreshed``); a new token is sent with ``add-tenants-v1`` before the old one expires. No
``remove-tenants-v1`` first: that would leave a gap in which the tenant's events are not sent. Removing a
tenant sends ``remove-tenants-v1`` with its id.

Resilience: any lost connection (drop, close, slow-consumer kick, protocol error) reconnects after a
backoff with full jitter (``Backoff``), resuming from the checkpoint of the last yielded batch, which the
host commits only after delivery. While the host delivers, the iterator is not advanced and nothing more
is read: the feed's own buffering and TCP push back (back-pressure, never a drop on our side).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from fortnox_connector.auth.oauth import utc_now
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.stream import (
    CatchUp,
    StreamBatch,
    StreamItem,
    StreamOptions,
    StreamStatus,
    TenantTokens,
    TenantTrouble,
)
from fortnox_connector.errors import ConnectorError, ReconnectRequired
from fortnox_connector.fortnox import feed
from fortnox_connector.fortnox.feed import FeedAnswer, FeedEvent, FeedProtocolError
from fortnox_connector.secrets import Secret, redact
from fortnox_connector.stream import checkpoint
from fortnox_connector.stream.events import Outcome, events_for, seen_before

log = logging.getLogger(__name__)
TOPIC = "invoices"
RETENTION = timedelta(days=14)
RETENTION_MARGIN = timedelta(hours=12)  # treat an offset this close to expiry as expired
REST_ATTEMPTS = 3
WINDOW = 64  # feed events read ahead and fetched at once
WORKERS = 16  # threads fetching them (each tenant's pacer still spaces its own requests)


class FeedRefused(ConnectorError):
    """Fortnox's feed refused a command for the whole connection (wrong client secret, no topic)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``base * 2**attempt`` capped at ``cap``, full jitter (uniform from 0)."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 16)))


@dataclass(eq=False)
class _Slot:
    """A feed event in the window: its outcome being fetched, then handed to the host."""

    event: FeedEvent
    task: asyncio.Future[Outcome | StreamItem]
    handed: bool = False


@dataclass(eq=False)
class _Reading:
    """One connection's reading state: the pending receive, the window, why reading stopped."""

    ws: ClientConnection
    recv: asyncio.Future[Any] | None = None
    window: deque[_Slot] = field(default_factory=deque)
    lost: BaseException | None = None

    def cancel(self) -> None:
        if self.recv is not None:
            self.recv.cancel()
        for slot in self.window:
            slot.task.cancel()


@dataclass(eq=False)
class _Tenant:
    ctx: TenantContext
    tokens: TenantTokens
    sent: str | None = None  # the accessTokens entry last sent for it
    fortnox_id: int | None = None
    retried: bool = False  # a refused token was refreshed once already


@dataclass
class StreamCounters:
    events: int = 0  # connector events yielded
    feed_events: int = 0
    skipped: int = 0
    requests: int = 0
    reconnects: int = 0
    re_adds: int = 0
    last_offset: str | None = None
    extra: dict[str, int] = field(default_factory=dict)


class FortnoxStream:
    """See the module docstring. Build with ``open_stream(options)`` (the ``StreamSpec`` factory)."""

    def __init__(
        self,
        options: StreamOptions,
        *,
        clock: Callable[[], datetime] = utc_now,
        backoff: Backoff | None = None,
        token_check_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options
        self.url = options.url or feed.FEED_URL
        self.clock = clock
        self.backoff = backoff or Backoff(**options.settings.get("backoff", {}))
        self.token_check_s = float(options.settings.get("token_check_s", token_check_s))
        self.window = int(options.settings.get("window", WINDOW))
        self._pool = ThreadPoolExecutor(max_workers=int(options.settings.get("workers", WORKERS)))
        self.counters = StreamCounters()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._tenants: dict[str, _Tenant] = {}
        self._by_fortnox: dict[int, str] = {}
        # re-adds sent while streaming, oldest first: accessTokens entry -> host tenant, until answered
        self._inflight: deque[dict[str, str]] = deque()
        self._notices: deque[StreamItem] = deque()
        self._ws: ClientConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None  # notices pending (the event loop waits on it)
        self._token_wake: asyncio.Event | None = None  # a token check is due
        self._closing = False
        self._cp = checkpoint.Checkpoint()

    # ---- what the host tells us (from the stream's event loop, or any thread)
    def add_tenant(self, ctx: TenantContext, tokens: TenantTokens) -> None:
        self._tenants[ctx.tenant] = _Tenant(ctx, tokens)
        self._kick_tokens()

    def remove_tenant(self, tenant: str) -> None:
        entry = self._tenants.pop(tenant, None)
        if entry is None or entry.fortnox_id is None:
            return
        self._by_fortnox.pop(entry.fortnox_id, None)
        ws = self._ws
        if ws is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._send_soon, ws, feed.remove_tenants([entry.fortnox_id]))

    def token_refreshed(self, tenant: str) -> None:
        self._kick_tokens()

    def tenants(self) -> list[str]:
        return list(self._tenants)

    async def aclose(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        self._signal()

    # ---- the stream
    async def items(self, checkpoint_text: str | None) -> AsyncGenerator[StreamItem, None]:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._token_wake = asyncio.Event()
        self._cp = checkpoint.decode(checkpoint_text)
        try:
            attempt = 0
            while not self._closing:
                yield StreamStatus("connecting", len(self._tenants), self.url)
                reason = "closed"
                try:
                    async with connect(self.url, open_timeout=15, max_queue=16, compression=None) as ws:
                        self._ws = ws
                        async with contextlib.aclosing(self._session(ws)) as session:
                            async for item in session:
                                attempt = 0
                                yield item
                except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, InvalidURI) as exc:
                    reason = _describe(exc)
                except (FeedProtocolError, FeedRefused) as exc:
                    reason = str(exc)
                finally:
                    self._ws = None
                    self._inflight.clear()
                if self._closing:
                    break
                self.counters.reconnects += 1
                delay = self.backoff.delay(attempt, self._rng)
                attempt += 1
                yield StreamStatus(
                    "disconnected", len(self._tenants), f"{reason}; reconnecting in {delay:.2f} s"
                )
                await self._pause(delay)
            yield StreamStatus("stopped", len(self._tenants))
        finally:
            self._pool.shutdown(wait=False)

    async def _session(self, ws: ClientConnection) -> AsyncGenerator[StreamItem, None]:
        for item in await self._add_all(ws):
            yield item
        resume = await self._topics(ws)
        for item in self._drain_notices():
            yield item
        answer = await self._command(ws, feed.subscribe(), "subscribe-v1")
        if not answer.ok:
            raise FeedRefused(f"Fortnox's feed refused subscribe-v1: {answer.error}")
        where = f"resumed at offset {resume}" if resume else "from the newest event"
        yield StreamStatus("streaming", len(self._by_fortnox), where)
        watcher = asyncio.create_task(self._watch_tokens(ws))
        try:
            async with contextlib.aclosing(self._events(ws, resume)) as events:
                async for item in events:
                    yield item
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await watcher

    async def _events(self, ws: ClientConnection, resume: str | None) -> AsyncGenerator[StreamItem, None]:
        """Read feed events into a window of up to ``window`` in flight, fetched concurrently (several
        tenants' requests overlap; each tenant's pacer keeps its rate), and hand each over as soon as it is
        done. The checkpoint's offset only ever covers the done prefix of the window; what was handed over
        beyond it is in the seen sets, so a resume re-reads it without emitting it again. A lost
        connection stops the reading; what was read is still fetched and handed over, then it reconnects."""
        r = _Reading(ws)
        try:
            while True:
                for item in self._drain_notices():
                    yield item
                while ready := self._ready(r.window):
                    async with contextlib.aclosing(self._hand_over(ready[0], r.window)) as handed:
                        async for item in handed:
                            yield item
                if r.lost is not None and not r.window:
                    raise r.lost
                event = await self._next_event(r)
                if event is None:
                    continue
                if resume is not None and event.offset == resume:
                    resume = None  # the event resumed at: handled before the checkpoint was taken
                    continue
                resume = None
                r.window.append(_Slot(event, asyncio.ensure_future(self._outcome(event))))
        finally:
            r.cancel()

    async def _next_event(self, r: _Reading) -> FeedEvent | None:
        """Wait for a message, a finished fetch or a notice; the feed event read, if that is what came."""
        assert self._wake is not None
        if r.lost is None and r.recv is None and len(r.window) < self.window:
            r.recv = asyncio.ensure_future(r.ws.recv())
        wake: asyncio.Future[Any] = asyncio.ensure_future(self._wake.wait())
        waiting: set[asyncio.Future[Any]] = {wake, *(s.task for s in r.window if not s.task.done())}
        if r.recv is not None:
            waiting.add(r.recv)
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        wake.cancel()
        if wake in done:
            self._wake.clear()
        if r.recv is None or r.recv not in done:
            return None
        recv, r.recv = r.recv, None
        try:
            msg = feed.parse(recv.result())
        except (ConnectionClosed, FeedProtocolError) as exc:
            r.lost = exc
            return None
        if isinstance(msg, FeedAnswer):
            await self._answered(r.ws, msg)
            return None
        return msg

    def _ready(self, window: deque[_Slot]) -> list[_Slot]:
        """Finished slots to hand over now: any of them once the stream has a resume point (a committed
        offset covers everything before the window), else only the head, so that a checkpoint never
        marks a later event emitted while an earlier one could still be lost on a fresh start."""
        if self._cp.offsets.get(TOPIC) is None:
            head = window[0] if window else None
            return [head] if head is not None and head.task.done() and not head.handed else []
        return [s for s in window if s.task.done() and not s.handed]

    async def _outcome(self, event: FeedEvent) -> Outcome | StreamItem:
        """The event's outcome, fetched on a worker thread; a known number or a stranger costs nothing."""
        self.counters.feed_events += 1
        tenant = self._by_fortnox.get(event.tenant_id)
        entry = self._tenants.get(tenant) if tenant is not None else None
        if entry is None or event.topic != TOPIC or seen_before(self._cp, entry.ctx.tenant, event):
            return Outcome(skipped=1)
        return await self._fetch(entry, event)

    async def _hand_over(self, slot: _Slot, window: deque[_Slot]) -> AsyncGenerator[StreamItem, None]:
        """Yield a finished slot's events (those not emitted before, now marked) with a checkpoint whose
        offset covers the window's finished prefix."""
        slot.handed = True
        result = slot.task.result()
        outcome = Outcome(skipped=1)
        if isinstance(result, Outcome):
            outcome = result
        else:
            yield result
        tenant = self._by_fortnox.get(slot.event.tenant_id)
        events = []
        for event, mark in outcome.events:
            if mark is not None and tenant is not None:
                kind, number = mark
                if number in self._cp.seen_set(tenant, kind):
                    outcome.skipped += 1  # a duplicate in flight at the same time, or already emitted
                    continue
                self._cp.mark(tenant, kind, number)
            events.append(event)
        while window and window[0].handed:
            done = window.popleft().event
            self._cp.move(done.topic, done.offset, self.clock())
            self.counters.last_offset = done.offset
        self.counters.events += len(events)
        self.counters.skipped += outcome.skipped
        self.counters.requests += outcome.requests
        stamp = slot.event.timestamp
        yield StreamBatch(tuple(events), self._cp.encode(), stamp.timestamp() if stamp is not None else None)

    async def _fetch(self, entry: _Tenant, event: FeedEvent) -> Outcome | StreamItem:
        """The event's connector events; a tenant that must reconnect or a REST call that keeps failing
        becomes a notice instead (the poll catches that payment up), never a silent skip."""
        error: ConnectorError | None = None
        loop = asyncio.get_running_loop()
        for _ in range(REST_ATTEMPTS):
            try:
                return await loop.run_in_executor(self._pool, events_for, entry.ctx, event)
            except ReconnectRequired as exc:
                self._drop_tenant(entry)
                return TenantTrouble(entry.ctx.tenant, exc.with_tenant(entry.ctx.tenant))
            except ConnectorError as exc:
                error = exc
        tenant = entry.ctx.tenant
        return CatchUp(
            (tenant,), f"fetching {event.type} {event.entity_id} failed {REST_ATTEMPTS} times: {error}"
        )

    # ---- commands
    async def _command(self, ws: ClientConnection, text: str, response: str) -> FeedAnswer:
        """Send a command before subscribing and wait for its answer (no events flow yet)."""
        await ws.send(text)
        while True:
            msg = feed.parse(await ws.recv())
            if isinstance(msg, FeedAnswer) and msg.response == response:
                return msg
            if isinstance(msg, FeedAnswer):
                await self._answered(ws, msg)

    async def _add_all(self, ws: ClientConnection) -> list[StreamItem]:
        """Add every tenant; a refused token is refreshed and sent once more before it is reported."""
        self._by_fortnox.clear()
        for entry in self._tenants.values():
            entry.fortnox_id, entry.sent, entry.retried = None, None, False
        pending = list(self._tenants.values())
        while pending:
            sent = await self._tokens_for(pending)
            if not sent:
                break
            answer = await self._command(
                ws, feed.add_tenants(self.options.secret, list(sent)), "add-tenants-v1"
            )
            if not answer.ok:
                raise FeedRefused(
                    f"Fortnox's feed refused add-tenants-v1: {answer.error or 'no reason given'}",
                    hint="check the app's client secret (FORTNOX_CLIENT_SECRET)",
                )
            pending = self._apply_answer(answer, sent)
        return list(self._drain_notices())

    async def _tokens_for(self, entries: list[_Tenant]) -> dict[str, str]:
        """``accessTokens`` entry → host tenant for ``entries``; a failing provider is a notice."""
        sent: dict[str, str] = {}
        for entry in entries:
            text = await self._token(entry)
            if text is None:
                continue
            entry.sent = text
            sent[text] = entry.ctx.tenant
        return sent

    def _apply_answer(self, answer: FeedAnswer, sent: dict[str, str]) -> list[_Tenant]:
        """Record the token → tenant id map; return the tenants to try once more after a refresh."""
        ids = answer.body.get("tenantIds") or {}
        retry: list[_Tenant] = []
        for text, tenant in sent.items():
            entry = self._tenants.get(tenant)
            if entry is None:
                continue
            if text in ids:
                entry.fortnox_id = int(ids[text])
                entry.retried = False
                self._by_fortnox[entry.fortnox_id] = tenant
            elif not entry.retried:
                entry.retried = True
                with contextlib.suppress(ConnectorError):
                    entry.tokens.invalidate(_secret_of(text))
                retry.append(entry)
            else:
                self._trouble(
                    entry,
                    ReconnectRequired(
                        "Fortnox's WebSocket feed refused the tenant's access token, also after a refresh",
                        hint="reconnect the tenant (the customer approves the app again)",
                    ),
                )
        return retry

    async def _answered(self, ws: ClientConnection, answer: FeedAnswer) -> None:
        """An answer that came while streaming (a re-add after a refresh): map it, retry or report."""
        if answer.response != "add-tenants-v1":
            if not answer.ok:
                log.warning("Fortnox's feed refused %s: %s", answer.response, answer.error)
            return
        sent = self._inflight.popleft() if self._inflight else {}
        if not answer.ok:
            log.warning("Fortnox's feed refused a re-add: %s", answer.error)
            return
        retry = self._apply_answer(answer, sent)
        added = [t for t in sent.values() if t in self._tenants and self._tenants[t].fortnox_id is not None]
        if added:
            self._notices.append(
                StreamStatus(
                    "streaming", len(self._by_fortnox), f"re-added {len(added)} tenant(s) with new tokens"
                )
            )
        if retry:
            await self._send_adds(ws, retry)

    async def _send_adds(self, ws: ClientConnection, entries: list[_Tenant]) -> None:
        sent = await self._tokens_for(entries)
        if sent:
            self._inflight.append(sent)
            self.counters.re_adds += len(sent)
            await ws.send(feed.add_tenants(self.options.secret, list(sent)))

    async def _topics(self, ws: ClientConnection) -> str | None:
        """Add the topic at the checkpoint's offset when it is still kept; returns the offset used."""
        offset = self._cp.offsets.get(TOPIC)
        at = self._cp.at.get(TOPIC)
        if offset is not None and at is not None and self.clock() - at > RETENTION - RETENTION_MARGIN:
            self._catch_up(f"the stored offset is from {at.isoformat()}, older than the feed keeps (14 days)")
            offset = None
        answer = await self._command(ws, feed.add_topics({TOPIC: offset}), "add-topics-v1")
        if not answer.ok and offset is not None:
            self._catch_up(f"Fortnox refused the stored offset ({answer.error or 'no reason given'})")
            offset = None
            answer = await self._command(ws, feed.add_topics({TOPIC: None}), "add-topics-v1")
        if not answer.ok or TOPIC in (answer.body.get("invalidTopics") or []):
            raise FeedRefused(f"Fortnox's feed refused the topic {TOPIC!r}: {answer.error}")
        return offset

    def _catch_up(self, reason: str) -> None:
        log.warning("stream: %s; the scheduled poll catches every tenant up", reason)
        self._cp.forget_offsets()
        self._notices.append(CatchUp(tuple(self._tenants), reason))

    # ---- tokens
    async def _watch_tokens(self, ws: ClientConnection) -> None:
        """Re-add each tenant whose provider hands out a new token (after a refresh)."""
        assert self._token_wake is not None
        while True:
            self._token_wake.clear()
            changed: list[_Tenant] = []
            for entry in list(self._tenants.values()):
                token = await self._token(entry)
                if token is not None and token != entry.sent:
                    changed.append(entry)
            if changed:
                await self._send_adds(ws, changed)
            self._signal()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._token_wake.wait(), timeout=self.token_check_s)

    async def _token(self, entry: _Tenant) -> str | None:
        """The tenant's current token as sent (``Bearer …``); a tenant that must reconnect is reported,
        any other failure is logged and tried again at the next check."""
        try:
            return feed.bearer(await asyncio.to_thread(entry.tokens.access_token))
        except ReconnectRequired as exc:
            self._trouble(entry, exc)
        except ConnectorError as exc:
            log.warning(
                "stream: no token for the tenant now (%s); trying again later",
                exc,
                extra={"tenant": entry.ctx.tenant},
            )
        return None

    def _kick_tokens(self) -> None:
        self._set(self._token_wake)

    # ---- notices and helpers
    def _trouble(self, entry: _Tenant, error: ConnectorError) -> None:
        self._drop_tenant(entry)
        self._notices.append(TenantTrouble(entry.ctx.tenant, error.with_tenant(entry.ctx.tenant)))
        self._signal()

    def _drop_tenant(self, entry: _Tenant) -> None:
        self._tenants.pop(entry.ctx.tenant, None)
        if entry.fortnox_id is not None:
            self._by_fortnox.pop(entry.fortnox_id, None)

    def _drain_notices(self) -> list[StreamItem]:
        items = list(self._notices)
        self._notices.clear()
        return items

    def _signal(self) -> None:
        self._set(self._wake)

    def _set(self, event: asyncio.Event | None) -> None:
        """Set ``event`` from the stream's loop or from any other thread."""
        loop, wake = self._loop, event
        if loop is None or wake is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _send_soon(self, ws: ClientConnection, text: str) -> None:
        task = asyncio.ensure_future(_quiet_send(ws, text))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def _pause(self, seconds: float) -> None:
        assert self._wake is not None
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._closing:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=left)


_BACKGROUND: set[asyncio.Future[None]] = set()


async def _quiet_send(ws: ClientConnection, text: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(text)


def _secret_of(text: str) -> Secret:
    return Secret(text[7:] if text.startswith("Bearer ") else text)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd
        if frame is not None:
            return f"the feed closed the connection ({frame.code} {frame.reason})".rstrip()
        return "the connection was lost"
    return redact(f"{type(exc).__name__}: {exc}")


def open_stream(options: StreamOptions) -> FortnoxStream:
    """The ``StreamSpec.open`` factory."""
    return FortnoxStream(options)
