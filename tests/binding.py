"""Binding a trigger to a context the test built itself, as a session does (``session.trigger(name)``)."""

from __future__ import annotations

from typing import Any

from fortnox_connector.contract import BoundTrigger, TriggerSpec


def bind(spec: TriggerSpec[Any], ctx: Any) -> BoundTrigger[Any]:
    """``spec`` bound to ``ctx`` (whose ``tenant`` names the tenant)."""
    return BoundTrigger(spec, ctx, ctx.tenant)
