"""The idempotency key of an item that names none: derived from what identifies its request, stably.

In this order (the first that exists), with the item's position in its batch appended:

1. ``webhook-id`` (Standard Webhooks): the sender's id of the message, the same on every retry of it, so a
   partner's retry maps to the same key even when Pandium gives it a new trigger: ``webhook:<id>:<n>``;
2. the Pandium trigger's ``id``: stable while Pandium re-presents the same trigger: ``trigger:<id>:<n>``;
3. the SHA-256 of the body: ``body:<hex>:<n>``. Two identical requests then run once: name a key when
   sending the same instruction twice on purpose.

An explicit key (the input's ``idempotency_key``, else the item's) always wins. Keys are namespaced by
action in the run's records, so two actions may share one.
"""

from __future__ import annotations

import hashlib

from fortnox_connector.runtime.pandium.instructions import Item
from fortnox_connector.runtime.pandium.run_triggers import RunTrigger


def item_key(trigger: RunTrigger, item: Item) -> str:
    if item.idempotency_key is not None:
        return item.idempotency_key
    message_id = trigger.headers.get("webhook-id", "").strip()
    if message_id:
        return f"webhook:{message_id}:{item.index}"
    if trigger.id is not None:
        return f"trigger:{trigger.id}:{item.index}"
    digest = hashlib.sha256(trigger.body or b"").hexdigest()
    return f"body:{digest}:{item.index}"
