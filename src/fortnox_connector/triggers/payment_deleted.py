"""Trigger ``payment_deleted``: a payment on a customer invoice was deleted in Fortnox.

A stream-only trigger (``connector.yaml``: ``modes: [stream]``): Fortnox's lists never show a deleted
payment (``shared/fortnox-api.md`` §4), so no poll can report one. The WebSocket feed's
``invoicepayment-deleted-v1`` event does (``fortnox.feed``, docs/stream.md); a check that finds a payment
gone may emit it too (``detected_by: "poll"``). The payment cannot be read any more, so the payload holds
only what the detector knew: the feed's event names the payment number and a timestamp, not the invoice.

Dedup key ``fortnox:<tenant>:payment:<Number>:deleted`` — one deletion per payment number, whichever
detector saw it first, so the stream and a vanished-payment check deduplicate each other.
"""

from __future__ import annotations

from typing import Any

from fortnox_connector.contract.records import Event

NAME = "payment_deleted"
DESCRIPTION = (
    "A payment on a customer invoice was deleted in Fortnox (so a billing system can reopen the invoice): "
    "payment number, when Fortnox recorded it, and how it was detected."
)
EVENT_SCHEMA_PATH = "events/payment_deleted.json"


def payment_deleted_key(tenant: str, number: str) -> str:
    return f"fortnox:{tenant}:payment:{number}:deleted"


def payment_deleted_payload(
    tenant: str,
    number: str,
    *,
    observed_at: str,
    detected_by: str,
    deleted_at: str | None = None,
    invoice_number: str | None = None,
) -> dict[str, Any]:
    """The ``payment_deleted`` payload (``schemas/events/payment_deleted.json``); times are aware ISO 8601."""
    return {
        "tenant": tenant,
        "payment_number": number,
        "invoice_number": invoice_number,
        "deleted_at": deleted_at,
        "detected_by": detected_by,
        "dedup_key": payment_deleted_key(tenant, number),
        "observed_at": observed_at,
    }


def payment_deleted_event(
    tenant: str,
    number: str,
    *,
    observed_at: str,
    detected_by: str,
    deleted_at: str | None = None,
    invoice_number: str | None = None,
) -> Event:
    """The event, ready to deliver."""
    payload = payment_deleted_payload(
        tenant,
        number,
        observed_at=observed_at,
        detected_by=detected_by,
        deleted_at=deleted_at,
        invoice_number=invoice_number,
    )
    return Event(NAME, tenant, payload["dedup_key"], payload)
