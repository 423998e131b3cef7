"""A second connector, "acme": a tiny ledger, to prove hosts and the runtime know no connector by name.

Its context is its own (``AcmeBooks``: the tenant's entries in a process-wide ledger); its one trigger
``entry_posted`` pages through entries after the cursor (an entry number), its one action ``post_entry``
appends one. Nothing in it knows Fortnox, and the runtime runs it unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fortnox_connector.contract import (
    ActionSpec,
    ConfigError,
    Connector,
    Event,
    PollResult,
    RunSummary,
    TenantSpec,
    TriggerSpec,
    hookimpl,
)

PAGE = 2
LEDGER: dict[str, list[dict[str, Any]]] = {}  # tenant → entries; tests reset it
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class AcmeBooks:
    tenant: str
    currency: str


@contextmanager
def open_books(tenant: TenantSpec) -> Iterator[AcmeBooks]:
    if not tenant.secrets.get("client_id"):
        raise ConfigError(
            "acme needs the secret 'client_id'", field="client_id", hint="give it in the secrets"
        )
    yield AcmeBooks(tenant.id, str(tenant.config.get("currency", "EUR")))


def entry_posted(books: AcmeBooks, cursor: str | None) -> PollResult:
    after = int(cursor or 0)
    with _lock:
        page = [e for e in LEDGER.get(books.tenant, []) if e["number"] > after][:PAGE]
    events = [Event("entry_posted", books.tenant, f"acme:{books.tenant}:{e['number']}", e) for e in page]
    last = page[-1]["number"] if page else after
    more = len(page) == PAGE
    return PollResult(events, str(last), more, RunSummary(pages=1, requests=1, events=len(events)))


def post_entry(books: AcmeBooks, data: Mapping[str, Any]) -> Mapping[str, Any]:
    with _lock:
        entries = LEDGER.setdefault(books.tenant, [])
        entry = {"number": len(entries) + 1, "amount": str(data["amount"]), "currency": books.currency}
        entries.append(entry)
    return entry


OBJECT = {"type": "object"}
CONNECTOR = Connector(
    "acme",
    "Acme Ledger",
    "1.0",
    "Acme's ledger",
    open_books,
    triggers=(TriggerSpec("entry_posted", "an entry was posted", OBJECT, entry_posted),),
    actions=(ActionSpec("post_entry", "post an entry", OBJECT, OBJECT, post_entry),),
    config_schema={"type": "object", "properties": {"currency": {"type": "string"}}},
)


class AcmePlugin:
    @hookimpl
    def register_connectors(self) -> Iterator[Connector[AcmeBooks]]:
        yield CONNECTOR


plugin = AcmePlugin()
