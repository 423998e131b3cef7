"""The Fortnox connector's per-tenant context: what its triggers and actions take as ``ctx``.

It is the connector's own (``opening.open_context`` builds it from a host's ``TenantSpec``); a host never
needs it. Triggers are ``poll(ctx, cursor)``, actions ``run(ctx, input)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fortnox_connector.contract.state import StateStore
    from fortnox_connector.declaration.config import TenantConfig
    from fortnox_connector.fortnox.client import FortnoxClient


@dataclass(frozen=True, slots=True)
class TenantContext:
    """Everything a trigger or an action needs for one tenant."""

    tenant: str
    config: TenantConfig
    client: FortnoxClient
    state: StateStore
    now: Callable[[], datetime]  # aware datetimes; tests inject a fixed clock
    log: logging.LoggerAdapter[logging.Logger]
