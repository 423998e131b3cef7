"""The instructions a webhook or API trigger carries: one action with its input, or a batch of them.

A body is JSON, one of::

    {"action": "register_payment", "input": {...}, "idempotency_key": "optional"}
    {"items": [{"action": ..., "input": ...}, ...]}
    [{"action": ..., "input": ...}, ...]

An item with another field, or a body of another shape, is refused with the reason (the item alone: its
neighbours in the batch still run). Each item keeps its position, which names it in the results and enters
its derived idempotency key (``keys.item_key``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ITEM_FIELDS: Final = ("action", "input", "idempotency_key")
MAX_ITEMS: Final = 1000  # one trigger's batch; a larger one is refused whole (split it)


@dataclass(frozen=True, slots=True)
class Item:
    """One instruction; ``refusal`` is set when it cannot be read (then ``action``/``input`` may be empty)."""

    index: int
    action: str | None
    input: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    refusal: str | None = None


class BodyRefused(Exception):
    """The body as a whole is unreadable (not JSON, not an instruction or a batch, too many items)."""


def read_items(body: bytes) -> list[Item]:
    """The body's items in order; raise ``BodyRefused`` when there is no item to read at all."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BodyRefused(f"the payload is not JSON ({type(exc).__name__})") from None
    if isinstance(doc, Mapping) and "items" in doc:
        extra = sorted(str(k) for k in doc if k != "items")
        if extra:
            raise BodyRefused(f"a batch has only 'items'; it also has {', '.join(extra)}")
        doc = doc["items"]
    if isinstance(doc, Mapping):
        return [_item(0, doc)]
    if not isinstance(doc, list):
        raise BodyRefused('the payload is neither an action ({"action": …, "input": …}) nor a batch of them')
    if not doc:
        raise BodyRefused("the batch has no items")
    if len(doc) > MAX_ITEMS:
        raise BodyRefused(f"the batch has {len(doc)} items, over the limit of {MAX_ITEMS}: split it")
    return [_item(i, raw) for i, raw in enumerate(doc)]


def _item(index: int, raw: object) -> Item:
    if not isinstance(raw, Mapping):
        return Item(index, None, refusal='the item is not an object like {"action": …, "input": …}')
    name = raw.get("action")
    action = name.strip() if isinstance(name, str) and name.strip() else None
    unknown = sorted(str(k) for k in raw if k not in ITEM_FIELDS)
    if unknown:
        return Item(
            index,
            action,
            refusal=f"unknown field(s) {', '.join(unknown)} (an item has {', '.join(ITEM_FIELDS)})",
        )
    if action is None:
        return Item(index, None, refusal="'action' must name an action, e.g. \"register_payment\"")
    data = raw.get("input")
    if not isinstance(data, Mapping):
        return Item(index, action, refusal="'input' must be an object: the action's input")
    key = raw.get("idempotency_key")
    if key is not None and not (isinstance(key, str) and key.strip()):
        return Item(index, action, refusal="'idempotency_key' must be a non-empty string")
    return Item(index, action, data, key.strip() if isinstance(key, str) else None)
