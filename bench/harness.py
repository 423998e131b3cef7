"""The trigger side of the benchmark: the real ``poll`` through ``runtime.runner.run_trigger`` and the real
``FortnoxClient``, with a sink that counts (and, when asked, schema-validates) what it is given."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema

import fortnox_connector
from fortnox_connector.auth.providers import FixedToken
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.connector import BoundTrigger
from fortnox_connector.contract.records import Event, RunSummary, TriggerSpec
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.pacing import PACERS, PacerRegistry
from fortnox_connector.runtime.runner import RunOutcome, run_trigger

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
TRIGGERS = ("payment_received", "invoice_paid")
# Every seeded payment is emitted (the bulk seed is unbooked), and the whole seed is inside the first window.
CONFIG = TenantConfig(backfill_days=90, emit_unbooked_payments=True)


class TriggersMissing(RuntimeError):
    """The trigger modules are not on this branch yet."""


def trigger_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"fortnox_connector.triggers.{name}")
    except ModuleNotFoundError as exc:
        raise TriggersMissing(f"fortnox_connector.triggers.{name} is not available: {exc}") from None


def event_schema(relpath: str) -> dict[str, Any]:
    """The contract's loader when it is there (checkout or wheel), else the checkout's ``schemas/``."""
    try:
        loader = importlib.import_module("fortnox_connector.declaration.schemas").load_schema
    except (ImportError, AttributeError):
        package_root = Path(fortnox_connector.__file__).resolve().parents[2] / "schemas"
        path = SCHEMAS / relpath if (SCHEMAS / relpath).exists() else package_root / relpath
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    return dict(loader(relpath))


def trigger_spec(name: str) -> TriggerSpec[Any]:
    module = trigger_module(name)
    return TriggerSpec(module.NAME, module.DESCRIPTION, event_schema(module.EVENT_SCHEMA_PATH), module.poll)


def make_client(
    base_url: str,
    token: str,
    client_id: str,
    tenant: int,
    *,
    paced: bool,
    pacers: PacerRegistry | None = None,
) -> FortnoxClient:
    """The real client: its process-wide pacer (or ``pacers``) when ``paced``, none otherwise (limit off)."""
    return FortnoxClient(
        tenant=str(tenant),
        tokens=FixedToken(token),
        client_id=client_id,
        base_url=base_url,
        pacers=(pacers or PACERS) if paced else PacerRegistry(limit=10**9),
    )


def make_ctx(client: FortnoxClient, now: Callable[[], datetime], state: MemoryStateStore) -> TenantContext:
    log = logging.LoggerAdapter(logging.getLogger("bench"), {"tenant": client.tenant})
    return TenantContext(tenant=client.tenant, config=CONFIG, client=client, state=state, now=now, log=log)


@dataclass
class CountingSink:
    """Delivers to nowhere; counts events and distinct dedup keys; validates payloads when given a schema."""

    schema: dict[str, Any] | None = None
    keep_keys: bool = True  # off for the memory run: a million keys would be the sink's memory, not ours
    events: int = 0
    keys: set[str] = field(default_factory=set)
    on_page: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        if self.schema is None:
            self._validate = None
        else:
            cls = jsonschema.validators.validator_for(self.schema)
            cls.check_schema(self.schema)
            self._validate = cls(self.schema).validate

    def deliver(self, events: Sequence[Event]) -> None:
        validate = self._validate
        if validate is not None:
            for event in events:
                validate(event.payload)
        if self.keep_keys:
            self.keys.update(event.dedup_key for event in events)
        self.events += len(events)
        if self.on_page is not None:
            self.on_page(self.events)


def run(
    ctx: TenantContext, spec: TriggerSpec[Any], sink: CountingSink, cursor: str | None = None
) -> tuple[RunOutcome, str | None]:
    """One run to the end (``more`` false), committing to ``ctx.state``; the outcome and the last cursor."""

    def commit(c: str) -> None:
        ctx.state.commit_cursor(ctx.tenant, spec.name, c)

    outcome = run_trigger(
        BoundTrigger(spec, ctx, ctx.tenant), cursor=cursor, deliver=sink.deliver, commit=commit
    )
    if outcome.error is not None:
        raise outcome.error
    return outcome, outcome.cursor


def summary_json(s: RunSummary) -> dict[str, Any]:
    return {"pages": s.pages, "requests": s.requests, "events": s.events, "skipped": s.skipped}
