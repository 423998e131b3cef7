"""A fake clock, a fake token provider and a fake Fortnox (httpx.MockTransport) for the client's tests.

The fake Fortnox enforces Fortnox's own limit, 25 requests per 5-second sliding window, on the fake clock,
and answers 429 beyond it; simulated network latency advances the shared clock.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.fortnox.retry import RetryPolicy
from fortnox_connector.secrets import Secret

ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-access-token-AAA"
FRESH_TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-access-token-BBB"
TENANT = "acme-ab"
CLIENT_ID = "client-123"


class FakeClock:
    """Monotonic seconds that move only when someone sleeps or the fake network spends time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


class FakeTokens:
    """Hands out ``tokens`` in order; ``invalidate`` moves to the next one."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens or (ACCESS_TOKEN,))
        self.invalidated: list[Secret] = []

    def access_token(self) -> Secret:
        return Secret(self.tokens[0])

    def invalidate(self, token: Secret) -> None:
        self.invalidated.append(token)
        if len(self.tokens) > 1 and Secret(self.tokens[0]) == token:
            self.tokens.pop(0)

    def extra_headers(self) -> dict[str, str]:
        return {}


Scripted = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def payment(number: int, *, invoice: int = 1, booked: bool = False) -> dict[str, Any]:
    return {
        "Number": str(number),
        "InvoiceNumber": invoice,
        "Amount": 100.5,
        "Currency": "SEK",
        "CurrencyRate": "1",
        "CurrencyUnit": 1,
        "PaymentDate": "2026-11-02",
        "Booked": booked,
        "Source": "manual",
        "WriteOffExist": False,
    }


def invoice(number: int, *, balance: str = "0") -> dict[str, Any]:
    return {"DocumentNumber": str(number), "Total": 1250, "Balance": balance, "Credit": "false"}


def json_response(status: int, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=body, **kwargs)


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    headers: httpx.Headers
    body: bytes
    arrival: float
    raw_path: bytes = b""


@dataclass
class FakeFortnox:
    """Emulates the Fortnox endpoints the client uses, with Fortnox's rate limit on the fake clock."""

    clock: FakeClock
    limit: int = 25
    window: float = 5.0
    latency: Callable[[], float] = lambda: 0.0  # one-way seconds; the round trip costs twice that
    latency_back: Callable[[], float] | None = None  # the way back when it differs from the way in
    valid_tokens: set[str] = field(default_factory=lambda: {ACCESS_TOKEN, FRESH_TOKEN})
    payments: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    rejected: int = 0
    script: dict[tuple[str, str], list[Scripted]] = field(default_factory=dict)

    def queue(self, method: str, path: str, *answers: Scripted) -> None:
        """Answer the next requests to (method, path) with ``answers``, then behave normally."""
        self.script.setdefault((method, path), []).extend(answers)

    def handler(self, request: httpx.Request) -> httpx.Response:
        up = self.latency()
        back = up if self.latency_back is None else self.latency_back()
        arrival = self.clock.now + up
        self.clock.now += up + back
        self.arrivals.append(arrival)
        self.seen.append(
            Seen(
                request.method,
                request.url.path,
                dict(request.url.params),
                httpx.Headers(request.headers),  # a copy: the re-authenticated try reuses the request
                request.content,
                arrival,
                request.url.raw_path,
            )
        )
        in_window = sum(1 for a in self.arrivals if arrival - self.window < a <= arrival)
        if in_window > self.limit:
            self.rejected += 1
            return json_response(429, {"message": "Too Many Requests"})
        scripted = self.script.get((request.method, request.url.path))
        if scripted:
            answer = scripted.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, httpx.Response):
                return answer
            return answer(request)
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid_tokens:
            return json_response(401, {"message": "unauthorized"})
        return self.route(request)

    def one_payment(self, method: str, parts: list[str]) -> httpx.Response | None:
        """/3/invoicepayments/N (GET, DELETE, PUT …/bookkeep); None for another method."""
        found = [p for p in self.payments if p["Number"] == parts[2]]
        if not found:
            error = {"error": 1, "message": "Kan inte hitta betalningen", "code": 2000001}
            return json_response(404, {"ErrorInformation": error})
        if method == "GET":
            return json_response(200, {"InvoicePayment": found[0]})
        if method == "DELETE":
            self.payments.remove(found[0])
            return httpx.Response(204)
        if method == "PUT" and parts[3:] == ["bookkeep"]:
            found[0]["Booked"] = True
            return json_response(200, {"InvoicePayment": found[0]})
        return None

    def route(self, request: httpx.Request) -> httpx.Response:
        parts = [p for p in request.url.path.split("/") if p]
        method = request.method
        if parts == ["3", "companyinformation"]:
            return json_response(200, {"CompanyInformation": {"CompanyName": "Acme AB", "DatabaseNumber": 7}})
        if parts == ["3", "modesofpayments"]:
            modes = [{"Code": "BG", "Description": "Bankgiro", "AccountNumber": 1930}]
            return json_response(200, self.listing(request, "ModesOfPayments", modes))
        if parts == ["3", "invoicepayments"] and method == "GET":
            return json_response(200, self.listing(request, "InvoicePayments", self.payments))
        if parts == ["3", "invoicepayments"] and method == "POST":
            body = json.loads(request.content)["InvoicePayment"]
            new = {**payment(len(self.payments) + 1), **body, "Number": str(len(self.payments) + 1)}
            self.payments.append(new)
            return json_response(201, {"InvoicePayment": new})
        if parts[:2] == ["3", "invoicepayments"] and len(parts) >= 3:
            answer = self.one_payment(method, parts)
            if answer is not None:
                return answer
        if parts == ["3", "invoices"]:
            return json_response(200, self.listing(request, "Invoices", self.invoices))
        if parts[:2] == ["3", "invoices"] and len(parts) == 3:
            found = [i for i in self.invoices if i["DocumentNumber"] == parts[2]]
            if found:
                return json_response(200, {"Invoice": found[0]})
            return json_response(
                404, {"ErrorInformation": {"Error": 1, "Message": "Kan inte hitta fakturan", "Code": 2000434}}
            )
        return json_response(404, {"message": "no such route"})

    def listing(self, request: httpx.Request, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        limit = int(request.url.params.get("limit", "100"))
        page = int(request.url.params.get("page", "1"))
        pages = max(1, -(-len(items) // limit))
        chunk = items[(page - 1) * limit : page * limit]
        return {
            "MetaInformation": {"@TotalResources": len(items), "@TotalPages": pages, "@CurrentPage": page},
            key: chunk,
        }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> FakeFortnox:
    return FakeFortnox(clock=clock)


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens(ACCESS_TOKEN, FRESH_TOKEN)


@dataclass
class Make:
    clock: FakeClock
    server: FakeFortnox
    tokens: FakeTokens
    pacers: PacerRegistry = field(default_factory=PacerRegistry)
    clients: list[FortnoxClient] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> FortnoxClient:
        options: dict[str, Any] = {
            "tenant": TENANT,
            "tokens": self.tokens,
            "client_id": CLIENT_ID,
            "base_url": "https://api.fortnox.test",
            "transport": httpx.MockTransport(self.server.handler),
            "pacers": self.pacers,
            "clock": self.clock,
            "sleep": self.clock.sleep,
            "retry": RetryPolicy(rng=random.Random(7)),
        }
        options.update(kwargs)
        client = FortnoxClient(**options)
        self.clients.append(client)
        return client


@pytest.fixture
def make_client(clock: FakeClock, server: FakeFortnox, tokens: FakeTokens) -> Iterator[Make]:
    make = Make(clock, server, tokens)
    yield make
    for client in make.clients:
        client.close()
