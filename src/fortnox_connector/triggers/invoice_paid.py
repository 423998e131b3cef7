"""Placeholder for the ``invoice_paid`` trigger until the triggers branch lands (on merge, keep theirs).

It carries the agreed interface (NAME, DESCRIPTION, EVENT_SCHEMA_PATH, poll) so the plugin can register it.
"""

from __future__ import annotations

from fortnox_connector.contract.records import PollResult, TenantContext

NAME = "invoice_paid"
DESCRIPTION = "A customer invoice became fully paid in Fortnox (its balance reached zero)."
EVENT_SCHEMA_PATH = "events/invoice_paid.json"


def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
    raise NotImplementedError("the invoice_paid trigger lands with the triggers branch")
