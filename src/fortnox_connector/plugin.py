"""The Fortnox connector as a plugin of the ``connectors`` group (entry point ``fortnox`` in pyproject).

One hook yields the connector with its triggers and actions nested: its definition and its actions'
schemas come from the validated ``connector.yaml``; its triggers from the trigger modules (``NAME``,
``DESCRIPTION``, ``EVENT_SCHEMA_PATH``, ``poll``), checked against the declaration by the tests. A host
opens it per tenant (``opening.open_context``: the connector builds its own Fortnox client). The observer
hooks log at DEBUG: the tenant, the trigger and the cursor, or a token's expiry and scope (never a token).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from types import ModuleType

from fortnox_connector.actions import (
    export_invoice,
    export_paid_invoice,
    find_invoices,
    get_invoice,
    register_payment,
    upsert_customer,
)
from fortnox_connector.checks import check
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.connector import Connector
from fortnox_connector.contract.hookspecs import hookimpl
from fortnox_connector.contract.records import ActionSpec, TriggerSpec
from fortnox_connector.contract.stream import StreamOptions, StreamSource, StreamSpec
from fortnox_connector.declaration.config import read_config
from fortnox_connector.declaration.loader import declaration_path, load_declaration
from fortnox_connector.declaration.manifest import Declaration
from fortnox_connector.declaration.schemas import load_schema
from fortnox_connector.opening import open_context
from fortnox_connector.triggers import invoice_paid, payment_received

CONNECTOR = "fortnox"
TRIGGER_MODULES: tuple[ModuleType, ...] = (payment_received, invoice_paid)
ACTION_FUNCTIONS = {
    "register_payment": register_payment.run,
    "get_invoice": get_invoice.run,
    "find_invoices": find_invoices.run,
    "upsert_customer": upsert_customer.run,
    "export_invoice": export_invoice.run,
    "export_paid_invoice": export_paid_invoice.run,
}

log = logging.getLogger(__name__)


def connector() -> Connector[TenantContext]:
    """The Fortnox connector, with its triggers and actions."""
    decl = load_declaration()
    triggers = tuple(
        TriggerSpec(m.NAME, m.DESCRIPTION, load_schema(m.EVENT_SCHEMA_PATH), m.poll) for m in TRIGGER_MODULES
    )
    actions = tuple(
        ActionSpec(
            a.name,
            a.description,
            load_schema(a.input_schema),
            load_schema(a.output_schema),
            ACTION_FUNCTIONS[a.name],
        )
        for a in decl.actions
    )
    return Connector(
        decl.id,
        decl.name,
        decl.version,
        decl.description,
        open_context,
        triggers=triggers,
        actions=actions,
        streams=(_invoices_stream(decl),),
        declaration=decl,
        config_schema=load_schema(decl.config_schema),
        check=check,
        read_config=read_config,
        manifest=manifest_text,
    )


def manifest_text() -> str:
    """``connector.yaml`` as written, after validating it (an invalid one is refused with field and fix)."""
    load_declaration()
    return declaration_path().read_text(encoding="utf-8")


def _invoices_stream(decl: Declaration) -> StreamSpec:
    return StreamSpec(
        connector=decl.id,
        name="invoices",
        description=(
            "Fortnox's WebSocket feed, topic invoices: payments booked or deleted, within a second, for "
            "every tenant of the app on one connection (docs/stream.md)."
        ),
        triggers=tuple(t.name for t in decl.triggers if "stream" in t.modes),
        open=_open_stream,
    )


def _open_stream(options: StreamOptions) -> StreamSource:
    """The feed's source; imported on use, since websockets comes with the ``[stream]`` extra."""
    from fortnox_connector.stream.source import open_stream

    return open_stream(options)


@hookimpl
def register_connectors() -> Iterator[Connector[TenantContext]]:
    yield connector()


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
