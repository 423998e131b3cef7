"""The tenant's ``PAN_CFG_*`` settings as a typed ``TenantConfig``.

Pandium passes every setting as a string; ``parse_config(..., from_strings=True)`` coerces them by
``schemas/config.json`` (blank means "not set": the default applies) and names the field, tenant and fix on
error.

The two dynamic settings (``default_mode_of_payment``, ``default_mode_of_payment_account``) have one choice in
``PANDIUM.yaml`` until the tenant's first init run fills in the real ones: a placeholder. A form saved before
that holds the placeholder; it means "not chosen", so it is read as blank rather than failing every run
(``0`` is below the account range and would be refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fortnox_connector.declaration.config import TenantConfig, parse_config

# Setting -> the placeholder ``const`` of its definition in PANDIUM.yaml (tests keep the two in step).
PLACEHOLDERS: Final[Mapping[str, str]] = {
    "default_mode_of_payment": "placeholder",
    "default_mode_of_payment_account": "0",
}


def tenant_config(raw: Mapping[str, str], *, tenant: str) -> TenantConfig:
    cleaned = {
        key: "" if PLACEHOLDERS.get(key.strip().lower()) == value.strip() else value
        for key, value in raw.items()
    }
    return parse_config(cleaned, tenant=tenant, from_strings=True)
