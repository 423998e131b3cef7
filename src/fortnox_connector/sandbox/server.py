"""The sandbox HTTP server (stdlib, HTTP/1.1 keep-alive) and the in-process ``Sandbox`` handle."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import credit_notes, currencies, customers
from .api import Api, scope_for
from .clock import BusinessClock, WallClock
from .control import Control
from .errors import ApiError, error_body
from .faults import Fault, Faults, RateLimiter, Stats
from .feed import FeedLog
from .latency import Latency
from .oauth import OAuthState
from .oauth_routes import OAuthRoutes, Reply
from .settlement import voucher_rows
from .store import SCOPES, Store
from .wire import invoice_json, payment_full
from .ws import FeedServer

FIRST_TENANT = 100001


@dataclass
class SandboxOptions:
    """How the sandbox behaves. Defaults suit a demo; the pytest fixture turns the rate limit off."""

    seed: int = 1
    rate_limit: bool = True
    rate_limit_requests: int = 25
    rate_limit_window: float = 5.0
    retry_after: int | None = None  # seconds to send in Retry-After with a 429 (Fortnox: unconfirmed)
    token_ttl: int = 3600
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"  # noqa: S105 - the demo client of a local emulator
    redirect_uri: str | None = None  # the registered redirect URI; None accepts any
    error_key_case: str = "pascal"  # "pascal" (Error/Message/Code) or "lower" (error/message/code)
    tenants: int = 3
    invoices_per_tenant: int = 30
    payments_per_tenant: int = 20
    start: datetime | None = None  # business clock start (aware); None = now
    frozen_clock: bool = False
    service_consent_all: bool = (
        True  # every tenant accepts client_credentials without an account_type=service consent
    )
    latency: float = 0.0  # seconds of round trip added to every request (latency.py)
    latency_jitter: float = 0.0  # ± seconds around ``latency``
    feed: bool = False  # also serve the WebSocket feed (ws.py) when serving; or call serve_feed()
    feed_expire_subscriptions: bool = True  # a tenant's events stop when the token it was added with expires
    feed_slow_consumer_lag: int | None = None  # close a connection this many events behind (None: never)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.open_sockets: set[socket.socket] = set()
        self.sock_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sock_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sock_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def kick_all(self) -> None:
        with self.sock_lock:
            socks = list(self.open_sockets)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60
    wbufsize = 1 << 16  # one write per response (headers + body); flushed after each request
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _go(self) -> None:
        self.server.sandbox._dispatch(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _go

    def reply(self, r: Reply) -> None:
        self.send_response(r.status)
        for k, v in r.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(r.body)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class Sandbox:
    """A local Fortnox: OAuth, /3/ resources, rate limit, faults, a control API. Thread-safe."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.clock = BusinessClock(self.options.start, self.options.frozen_clock)
        self.wall = WallClock()
        self.oauth = OAuthState(self.options.token_ttl)
        self.faults = Faults(self.options.seed)
        self.latency = Latency(self.options.latency, self.options.latency_jitter, self.options.seed)
        self.limiter = RateLimiter(
            self.wall, self.options.rate_limit_requests, self.options.rate_limit_window
        )
        self._stats_lock = threading.Lock()
        self.stats = Stats()
        self.store = Store(self.options.seed)
        self._seed()
        self.feed = FeedLog(self.clock.now)  # the WebSocket feed's events (feed.py); seeding publishes none
        self.store.feed = self.feed
        self.feed_server: FeedServer | None = None
        self.oauth_routes = OAuthRoutes(self)
        self.control = Control(self)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.base_url = ""

    # ---- lifecycle
    @classmethod
    def start(cls, options: SandboxOptions | None = None, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
        """Build and serve in a background thread; use as a context manager or call ``stop()``."""
        sb = cls(options)
        sb.serve(host, port)
        return sb

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), self)
        bound_host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{bound_host!s}:{bound_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fortnox-sandbox",
            daemon=True,
        )
        self._thread.start()
        if self.options.feed:
            self.serve_feed(host)

    def serve_feed(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the WebSocket feed (``/topics-v1``, ws.py) on its own port; returns its URL."""
        if self.feed_server is None:
            self.feed_server = FeedServer(
                self,
                self.feed,
                expire_subscriptions=self.options.feed_expire_subscriptions,
                slow_consumer_lag=self.options.feed_slow_consumer_lag,
            )
            self.feed_server.start(host, port)
        return self.feed_server.url

    @property
    def feed_url(self) -> str:
        return self.feed_server.url if self.feed_server is not None else ""

    def stop(self) -> None:
        self._stopping.set()
        if self.feed_server is not None:
            self.feed_server.stop()
            self.feed_server = None
        if self._server is not None:
            self._server.shutdown()
            self._server.kick_all()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._stopping.wait(timeout)

    # ---- seeding and reset
    def _seed(self) -> None:
        with self.store.lock:
            now = self.clock.now()
            for i in range(self.options.tenants):
                tenant = self.store.add_tenant(FIRST_TENANT + i, f"Sandbox Företag {i + 1} AB")
                tenant.service_consent = self.options.service_consent_all
                self.store.seed_tenant(
                    tenant, now, self.options.invoices_per_tenant, self.options.payments_per_tenant
                )

    def reset(self) -> None:
        """Back to the seeded state: data, tokens, faults, rate-limit windows and counters."""
        self.store = Store(self.options.seed)
        self._seed()
        self.store.feed = self.feed  # the feed's log goes on (offsets stay valid)
        self.oauth.reset()
        self.faults.clear()
        self.limiter.reset()
        with self._stats_lock:
            self.stats = Stats()

    # ---- in-process API for tests
    @property
    def client_id(self) -> str:
        return self.options.client_id

    @property
    def client_secret(self) -> str:
        return self.options.client_secret

    def tenant_ids(self) -> list[int]:
        with self.store.lock:
            return sorted(self.store.tenants)

    def issue_token(self, tenant_id: int, scopes: tuple[str, ...] | list[str] = SCOPES) -> dict[str, Any]:
        """The token endpoint's answer (access and refresh token) without the browser dance."""
        self.store.tenant(tenant_id)
        return self.oauth.issue(tenant_id, tuple(scopes), self.client_id, self.now(), refresh=True)

    def add_invoice(self, tenant_id: int, **fields: Any) -> dict[str, Any]:
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            inv = self.store.add_invoice(tenant, self.now(), **fields)
            return invoice_json(inv, True)

    def add_payment(self, tenant_id: int, invoice_number: int | str, **fields: Any) -> dict[str, Any]:
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            pay = self.store.add_payment(tenant, int(invoice_number), self.now(), **fields)
            return payment_full(tenant, pay, True)

    def book_payment(self, tenant_id: int, number: int | str) -> dict[str, Any]:
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            return payment_full(tenant, self.store.book(tenant, int(number), self.now()), True)

    def delete_payment(self, tenant_id: int, number: int | str) -> None:
        """Delete an unbooked payment, as ``DELETE /3/invoicepayments/{Number}`` does."""
        with self.store.lock:
            self.store.delete_payment(self.store.tenant(tenant_id), int(number), self.now())

    def invoice(self, tenant_id: int, doc_no: int | str) -> dict[str, Any]:
        with self.store.lock:
            return invoice_json(self.store.invoice(self.store.tenant(tenant_id), int(doc_no)), True)

    def payments(self, tenant_id: int) -> list[dict[str, Any]]:
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            return [payment_full(tenant, p, True) for _, p in sorted(tenant.payments.items())]

    def customers(self, tenant_id: int) -> list[dict[str, Any]]:
        """Every customer of the tenant, whole (the seeded ``1`` to ``10`` included)."""
        with self.store.lock:
            return [c.full() for c in customers.search(self.store.tenant(tenant_id), {})]

    def add_customer(self, tenant_id: int, **fields: Any) -> dict[str, Any]:
        """A customer with Fortnox's field names, by the rules of ``POST /3/customers``."""
        with self.store.lock:
            return customers.create(self.store.tenant(tenant_id), {"Customer": fields}).full()

    def invoices(self, tenant_id: int) -> list[dict[str, Any]]:
        """Every invoice of the tenant as ``GET /3/invoices/{n}`` shows it, by document number."""
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            return [invoice_json(i, True) for _, i in sorted(tenant.invoices.items())]

    def set_round_off(self, tenant_id: int, on: bool) -> None:
        """Whether the company rounds SEK invoice totals to whole kronor (öresutjämning; on by default)."""
        with self.store.lock:
            self.store.tenant(tenant_id).round_off = on

    def voucher(self, tenant_id: int, number: int | str) -> list[tuple[int, Decimal, Decimal]]:
        """The rows ``(account, debit, credit)`` in SEK the payment books (``sandbox.settlement``)."""
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            pay = self.store.payment(tenant, int(number))
            inv = self.store.invoice(tenant, pay.invoice_number)
            return voucher_rows(
                pay.amount,
                pay.amount_currency,
                pay.write_offs,
                inv.currency,
                inv.currency_rate,
                inv.currency_unit,
                pay.mode_of_payment_account,
            )

    def credit_invoice(self, tenant_id: int, doc_no: int | str, amount: str | None = None) -> dict[str, Any]:
        """Credit the invoice (in full by default) with a new credit invoice that settles it; returns it."""
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            value = Decimal(amount) if amount is not None else None
            note = credit_notes.credit(self.store, tenant, int(doc_no), self.now(), value)
            return invoice_json(note, True)

    def set_currency_rate(
        self, tenant_id: int, code: str, rate: str | Decimal, day: date | None = None, unit: int = 1
    ) -> None:
        """The company's rate for ``code`` as ``GET /3/currencies/{code}`` serves it (default: today's)."""
        with self.store.lock:
            tenant = self.store.tenant(tenant_id)
            currencies.set_rate(tenant, code, Decimal(str(rate)), day or self.now().date(), Decimal(unit))

    def seed_payments(self, tenant_id: int, n: int) -> None:
        with self.store.lock:
            self.store.seed_payments(self.store.tenant(tenant_id), self.now(), n)

    def set_licences(self, tenant_id: int, scopes: tuple[str, ...] | list[str]) -> None:
        """Which scopes the tenant's company has a licence for (others answer 2001101)."""
        with self.store.lock:
            self.store.tenant(tenant_id).licences = set(scopes)

    def set_service_consent(self, tenant_id: int, consented: bool) -> None:
        with self.store.lock:
            self.store.tenant(tenant_id).service_consent = consented

    def revoke_consent(self, tenant_id: int) -> int:
        """The customer removes the integration in Fortnox: every token and code of the tenant dies and its
        service-account consent ends. Returns how many tokens and codes were revoked."""
        with self.store.lock:
            self.store.tenant(tenant_id).service_consent = False
        return self.oauth.revoke_tenant(tenant_id)

    def now(self) -> datetime:
        return self.clock.now()

    def set_clock(self, when: datetime, frozen: bool = True) -> None:
        self.clock.set(when, frozen)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def advance_wall(self, seconds: float) -> None:
        """Slide the rate-limit window without sleeping."""
        self.wall.advance(seconds)

    def inject_fault(
        self,
        kind: str,
        count: int | None = None,
        fraction: float | None = None,
        path_prefix: str = "/3/",
        method: str | None = None,
        delay: float = 1.0,
    ) -> None:
        """Fail the next ``count`` (or a ``fraction`` of) matching requests; kinds in ``FAULT_KINDS``."""
        if count is None and fraction is None:
            count = 1
        self.faults.add(Fault(str(kind), count, fraction, path_prefix, method, delay))

    def clear_faults(self) -> None:
        self.faults.clear()

    def count_token_request(self) -> None:
        with self._stats_lock:
            self.stats.token_requests += 1

    # ---- HTTP dispatch
    def _dispatch(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        path = url.path
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        if path.startswith("/_sandbox/"):
            h.reply(self.control.handle(h.command, path, query, raw))
            return
        self.latency.travel(self._stopping.wait)  # on its way in: it arrives (and is counted) after this
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.by_path[path] += 1
        fault = self.faults.pick(h.command, path)
        if fault is not None:
            with self._stats_lock:
                self.stats.faults += 1
            if fault.kind == "drop":
                h.drop()
                return
            if fault.kind == "drop_response":
                self._route(h, path, query, raw)  # done, but the answer never leaves
                h.drop()
                return
            if fault.kind == "slow":
                self._stopping.wait(fault.delay)
            else:
                self._send(h, self._fault_reply(fault.kind))
                return
        self._send(h, self._route(h, path, query, raw))

    def _send(self, h: _Handler, reply: Reply) -> None:
        with self._stats_lock:
            self.stats.by_status[reply.status] += 1
            if reply.status == 429:
                self.stats.rate_limited += 1
        self.latency.travel(self._stopping.wait)  # on its way out
        h.reply(reply)

    def _fault_reply(self, kind: str) -> Reply:
        if kind == "429":
            return self._too_many()
        if kind == "500":
            return self._error(1000003)
        if kind == "503":
            return Reply(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html")
        return Reply(200, b'{"InvoicePayments":[{"Number":"1","Amount":12', "application/json")

    def _too_many(self) -> Reply:
        headers = (
            {"Retry-After": str(self.options.retry_after)} if self.options.retry_after is not None else {}
        )
        body = json.dumps({"message": "Too many requests"}).encode()
        return Reply(429, body, "application/json", headers)

    def _error(self, code: int, message: str | None = None) -> Reply:
        status, body = error_body(code, self.options.error_key_case, message)
        return Reply(status, json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _route(self, h: _Handler, path: str, query: dict[str, str], raw: bytes) -> Reply:
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        if path == "/oauth-v1/auth":
            return self.oauth_routes.authorize(h.command, {**query, **form})
        if path == "/oauth-v1/token" and h.command == "POST":
            return self.oauth_routes.token(_lower(h), form)
        if path == "/oauth-v1/revoke" and h.command == "POST":
            return self.oauth_routes.revoke(_lower(h), form)
        if path.startswith("/3/"):
            return self._api(h, path, query, raw)
        return Reply(404, b'{"message":"not found"}')

    def _api(self, h: _Handler, path: str, query: dict[str, str], raw: bytes) -> Reply:
        auth = h.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        grant = self.oauth.lookup(token, self.now()) if token else None
        if grant is None:
            return Reply(401, b'{"message":"unauthorized"}')
        if self.options.rate_limit and not self.limiter.allow((grant.client_id, grant.tenant_id)):
            return self._too_many()
        scope = scope_for(path)
        if scope is None:
            return Reply(404, b'{"message":"not found"}')
        if scope not in grant.scopes:
            return self._error(2000663)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self._error(2002115)
        return self._answer(h.command, path, query, body, grant.tenant_id, scope)

    def _answer(
        self, method: str, path: str, query: dict[str, str], body: Any, tenant_id: int, scope: str
    ) -> Reply:
        """The API's answer for an authorised request: the tenant's licence, then the resource."""
        try:
            with self.store.lock:
                tenant = self.store.tenants.get(tenant_id)
                if tenant is None:
                    return Reply(401, b'{"message":"unauthorized"}')
                if scope not in tenant.licences:
                    return self._error(2001101)
                status, answer = Api(self.store, self.now).handle(tenant, method, path, query, body)
        except ApiError as err:
            return self._error(err.code, err.message)
        if answer is None:
            return Reply(status, b"")
        return Reply(
            status, json.dumps(answer, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        )


def _lower(h: _Handler) -> dict[str, str]:
    return {k.lower(): v for k, v in h.headers.items()}


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8787,
    seed: int = 1,
    tenants: int = 3,
    rate_limit: bool = True,
    out: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    token_ttl: int | None = None,
) -> None:
    """Serve until interrupted (or ``stop`` is set); prints the URL and the demo client id and secret.

    ``client_id``/``client_secret``/``token_ttl`` replace the documented defaults (``SandboxOptions``), so a
    host's own app credentials and a short token life can be tried against the sandbox.
    """
    opts = SandboxOptions(seed=seed, tenants=tenants, rate_limit=rate_limit, feed=True)
    if client_id is not None:
        opts.client_id = client_id
    if client_secret is not None:
        opts.client_secret = client_secret
    if token_ttl is not None:
        opts.token_ttl = token_ttl
    with Sandbox.start(opts, host, port) as sb:
        out(f"Fortnox sandbox listening on {sb.base_url}")
        out(f"  API {sb.base_url}/3/  OAuth {sb.base_url}/oauth-v1/  control {sb.base_url}/_sandbox/")
        out(f"  WebSocket feed {sb.feed_url}  (for `stream`: export FORTNOX_FEED_URL={sb.feed_url})")
        shown = sb.client_secret if client_secret is None else "(the one given; not printed)"
        out(f"  demo client id: {sb.client_id}  demo client secret: {shown}")
        out(f"  tenants: {', '.join(str(t) for t in sb.tenant_ids())}")
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            out("sandbox stopped")
