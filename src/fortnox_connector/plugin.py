"""The Fortnox connector as a plugin of the ``connectors`` group (entry point ``fortnox`` in pyproject).

Its definition and its actions' schemas come from the validated ``connector.yaml``; its triggers from the
trigger modules (``NAME``, ``DESCRIPTION``, ``EVENT_SCHEMA_PATH``, ``poll``), checked against the
declaration by the tests. The observer hooks log at DEBUG: the tenant, the trigger and the cursor, or a
token's expiry and scope (never a token).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from types import ModuleType

from fortnox_connector.actions import (
    export_invoice,
    export_paid_invoice,
    get_invoice,
    register_payment,
    upsert_customer,
)
from fortnox_connector.contract.hookspecs import hookimpl
from fortnox_connector.contract.records import ActionFn, ActionSpec, ConnectorDefinition, TriggerSpec
from fortnox_connector.contract.stream import StreamSpec
from fortnox_connector.declaration.loader import load_declaration
from fortnox_connector.declaration.schemas import load_schema
from fortnox_connector.stream.source import open_stream
from fortnox_connector.triggers import invoice_paid, payment_received

CONNECTOR = "fortnox"
TRIGGER_MODULES: tuple[ModuleType, ...] = (payment_received, invoice_paid)
ACTION_FUNCTIONS: dict[str, ActionFn] = {
    "register_payment": register_payment.run,
    "get_invoice": get_invoice.run,
    "upsert_customer": upsert_customer.run,
    "export_invoice": export_invoice.run,
    "export_paid_invoice": export_paid_invoice.run,
}

log = logging.getLogger(__name__)


@hookimpl
def register_connectors() -> Iterator[ConnectorDefinition]:
    decl = load_declaration()
    yield ConnectorDefinition(
        decl.id, decl.name, decl.version, decl.description, decl, load_schema(decl.config_schema)
    )


@hookimpl
def register_triggers() -> Iterator[TriggerSpec]:
    for module in TRIGGER_MODULES:
        yield TriggerSpec(
            connector=CONNECTOR,
            name=module.NAME,
            description=module.DESCRIPTION,
            event_schema=load_schema(module.EVENT_SCHEMA_PATH),
            poll=module.poll,
        )


@hookimpl
def register_streams() -> Iterator[StreamSpec]:
    stream_triggers = tuple(t.name for t in load_declaration().triggers if "stream" in t.modes)
    yield StreamSpec(
        connector=CONNECTOR,
        name="invoices",
        description=(
            "Fortnox's WebSocket feed, topic invoices: payments booked or deleted, within a second, for "
            "every tenant of the app on one connection (docs/stream.md)."
        ),
        triggers=stream_triggers,
        open=open_stream,
    )


@hookimpl
def register_actions() -> Iterator[ActionSpec]:
    for action in load_declaration().actions:
        yield ActionSpec(
            connector=CONNECTOR,
            name=action.name,
            description=action.description,
            input_schema=load_schema(action.input_schema),
            output_schema=load_schema(action.output_schema),
            run=ACTION_FUNCTIONS[action.name],
        )


@hookimpl
def on_checkpoint(tenant: str, trigger: str, cursor: str) -> None:
    log.debug("checkpoint %s at %s", trigger, cursor, extra={"tenant": tenant})


@hookimpl
def on_token_refreshed(tenant: str, expires_at: datetime, scope: frozenset[str]) -> None:
    log.debug(
        "token refreshed, expires %s, scope %s",
        expires_at.isoformat(),
        " ".join(sorted(scope)),
        extra={"tenant": tenant},
    )
