"""Helpers for the trigger tests: a real FortnoxClient on the sandbox, a host that delivers and commits.

``Host`` drives ``runtime.runner.run_trigger`` as a platform would: events appended to a list, cursors
committed to a dict, so tests can crash it between delivery and commit and run it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, TriggerSpec
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.declaration.schemas import load_schema
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.fortnox.retry import RetryPolicy
from fortnox_connector.runtime.runner import RunOutcome, run_trigger
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from fortnox_connector.triggers import invoice_paid, payment_received
from tests.binding import bind
from tests.fortnox.conftest import FakeClock

Module = Any  # a trigger module (payment_received or invoice_paid)


def spec(module: Module) -> TriggerSpec[Any]:
    return TriggerSpec(module.NAME, module.DESCRIPTION, load_schema(module.EVENT_SCHEMA_PATH), module.poll)


PAYMENTS = spec(payment_received)
INVOICES = spec(invoice_paid)


class SandboxTokens:
    """A TokenProvider that gets a new token from the sandbox when the last one expires on the sandbox's
    business clock (which the tests move by hours) or was refused."""

    def __init__(self, sandbox: Sandbox, tenant: int, scopes: Sequence[str]) -> None:
        self._sandbox, self._tenant, self._scopes = sandbox, tenant, tuple(scopes)
        self._token = self._issue()

    def _issue(self) -> Secret:
        answer = self._sandbox.issue_token(self._tenant, self._scopes)
        self._expires = self._sandbox.now() + timedelta(seconds=int(answer["expires_in"]) - 60)
        return Secret(str(answer["access_token"]))

    def access_token(self) -> Secret:
        if self._sandbox.now() >= self._expires:
            self._token = self._issue()
        return self._token

    def invalidate(self, token: Secret) -> None:
        if token == self._token:
            self._token = self._issue()

    def extra_headers(self) -> dict[str, str]:
        return {}


@dataclass
class Recorder(httpx.BaseTransport):
    """Forwards to real HTTP and keeps every request; ``rewrite`` may change a JSON answer."""

    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    requests: list[httpx.Request] = field(default_factory=list)
    rewrite: Callable[[httpx.Request, Any], Any] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        content = response.read()
        if self.rewrite is None or response.status_code != 200:
            return response
        data = self.rewrite(request, json.loads(content))
        headers = {"Content-Type": "application/json"}
        return httpx.Response(200, headers=headers, content=json.dumps(data).encode(), request=request)

    def close(self) -> None:
        self.inner.close()

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def params(self, path: str) -> list[Mapping[str, str]]:
        return [dict(r.url.params) for r in self.requests if r.url.path == path]


def make_client(sandbox: Sandbox, tenant: int, transport: httpx.BaseTransport, **kw: Any) -> FortnoxClient:
    tokens = SandboxTokens(sandbox, tenant, kw.pop("scopes", None) or ("invoice", "payment"))
    clock = kw.pop("clock", None) or FakeClock()
    return FortnoxClient(
        tenant=str(tenant),
        tokens=tokens,
        client_id=sandbox.client_id,
        base_url=sandbox.base_url,
        transport=transport,
        pacers=kw.pop("pacers", None) or PacerRegistry(limit=10_000),  # unpaced unless a test paces
        clock=clock,
        sleep=clock.sleep,
        retry=kw.pop("retry", None) or RetryPolicy(),
        max_retries=kw.pop("max_retries", 5),
        read_ahead=kw.pop("read_ahead", 0),  # page by page, as these tests count; test_read_ahead.py: on
        read_ahead_after=kw.pop("read_ahead_after", 0.0),  # when on, always (the fake clock sees no latency)
    )


def make_ctx(sandbox: Sandbox, client: FortnoxClient, config: TenantConfig | None = None) -> TenantContext:
    """A context whose ``now`` is the sandbox's business clock (Fortnox's ``lastmodified`` clock)."""
    return TenantContext(
        tenant=client.tenant,
        config=config or TenantConfig(),
        client=client,
        state=MemoryStateStore(),
        now=sandbox.now,
        log=logging.LoggerAdapter(logging.getLogger("tests.triggers"), {"tenant": client.tenant}),
    )


@dataclass
class Host:
    """A host for one tenant: list-collecting delivery, a dict cursor store, the shared poll loop."""

    ctx: TenantContext
    delivered: list[Event] = field(default_factory=list)
    cursors: dict[tuple[str, str], str] = field(default_factory=dict)
    outcomes: list[RunOutcome] = field(default_factory=list)
    on_deliver: Callable[[Sequence[Event]], None] | None = None
    on_commit: Callable[[str], None] | None = None

    def run(self, trigger: TriggerSpec[Any] = PAYMENTS, *, may_fail: bool = False) -> RunOutcome:
        """One run until the trigger says there is no more; an error fails the test unless ``may_fail``."""
        key = (self.ctx.tenant, trigger.name)

        def deliver(events: Sequence[Event]) -> None:
            if self.on_deliver is not None:
                self.on_deliver(events)
            step = 1 if len(events) <= 50 else 97  # schema checks cost ~0.3 ms: sample big pages
            for event in events[::step]:
                validate(trigger, event)
            self.delivered.extend(events)

        def commit(cursor: str) -> None:
            if self.on_commit is not None:
                self.on_commit(cursor)
            self.cursors[key] = cursor

        outcome = run_trigger(
            bind(trigger, self.ctx), cursor=self.cursors.get(key), deliver=deliver, commit=commit
        )
        self.outcomes.append(outcome)
        if outcome.error is not None and not may_fail:
            raise outcome.error
        return outcome

    def keys(self) -> list[str]:
        return [e.dedup_key for e in self.delivered]

    def payloads(self) -> list[Mapping[str, Any]]:
        return [e.payload for e in self.delivered]


_VALIDATORS: dict[str, Draft202012Validator] = {}


def validate(trigger: TriggerSpec[Any], event: Event) -> None:
    """The event's payload against its schema (formats checked), and its key/trigger/tenant consistent."""
    schema = trigger.event_schema
    if event.trigger != trigger.name:  # payment_received reports a vanished booked payment as payment_deleted
        assert (trigger.name, event.trigger) == ("payment_received", "payment_deleted")
        schema = load_schema(f"events/{event.trigger}.json")
    validator = _VALIDATORS.get(event.trigger)
    if validator is None:
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        _VALIDATORS[event.trigger] = validator
    validator.validate(dict(event.payload))
    assert event.payload["dedup_key"] == event.dedup_key
    assert event.payload["tenant"] == event.tenant


class Crash(Exception):
    """The host process dies (not a ConnectorError: the poll loop does not catch it)."""


def crash_on_commit(n: int) -> Callable[[str], None]:
    """A ``Host.on_commit`` that kills the host at its ``n``-th commit: after delivery, before the commit."""
    commits = 0

    def commit(cursor: str) -> None:
        nonlocal commits
        commits += 1
        if commits == n:
            raise Crash

    return commit


def inject_after_first_delivery(
    sandbox: Sandbox, kind: str, count: int, path_prefix: str
) -> Callable[[Sequence[Event]], None]:
    """A ``Host.on_deliver`` arming ``count`` sandbox faults of ``kind`` once the first page is delivered."""
    injected = False

    def deliver(events: Sequence[Event]) -> None:
        nonlocal injected
        if not injected:
            injected = True
            sandbox.inject_fault(kind, count=count, path_prefix=path_prefix)

    return deliver


def run_until_complete(
    host: Host, trigger: TriggerSpec[Any], tenant: object, attempts: int = 5
) -> RunOutcome:
    """Run again after each failed run (as a scheduler would), each failure naming the tenant."""
    for _ in range(attempts):
        outcome = host.run(trigger, may_fail=True)
        if outcome.complete:
            return outcome
        assert outcome.error is not None and f"tenant {tenant}" in str(outcome.error)
    raise AssertionError(f"{trigger.name} did not complete in {attempts} runs")
