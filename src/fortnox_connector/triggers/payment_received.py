"""Placeholder for the ``payment_received`` trigger until the triggers branch lands (on merge, keep theirs).

It carries the agreed interface (NAME, DESCRIPTION, EVENT_SCHEMA_PATH, poll) so the plugin can register it.
"""

from __future__ import annotations

from fortnox_connector.contract.records import PollResult, TenantContext

NAME = "payment_received"
DESCRIPTION = "A payment was registered on a customer invoice in Fortnox (by default only booked ones)."
EVENT_SCHEMA_PATH = "events/payment_received.json"


def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
    raise NotImplementedError("the payment_received trigger lands with the triggers branch")
