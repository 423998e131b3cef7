"""The connector's poll triggers: ``payment_received`` and ``invoice_paid`` (see docs/triggers.md).

Each module exposes ``NAME``, ``DESCRIPTION``, ``EVENT_SCHEMA_PATH`` (relative to ``schemas/``) and
``poll(ctx, cursor) -> PollResult``; ``TRIGGER_MODULES`` lists them for whoever registers them.
"""

from __future__ import annotations

from fortnox_connector.triggers import invoice_paid, payment_received

TRIGGER_MODULES = (payment_received, invoice_paid)
