"""The connector's poll triggers: ``payment_received`` and ``invoice_paid`` (see docs/triggers.md).

Each module exposes ``NAME``, ``DESCRIPTION``, ``EVENT_SCHEMA_PATH`` (relative to ``schemas/``) and
``poll(ctx, cursor) -> PollResult``; ``fortnox_connector.plugin`` registers them.
"""
