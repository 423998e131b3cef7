"""The tenant's ``PAN_CFG_*`` settings as a typed ``TenantConfig``.

Pandium passes every setting as a string; ``parse_config(..., from_strings=True)`` coerces them by
``schemas/config.json`` (blank means "not set": the default applies) and names the field, tenant and fix on
error.
"""

from __future__ import annotations

from collections.abc import Mapping

from fortnox_connector.declaration.config import TenantConfig, parse_config


def tenant_config(raw: Mapping[str, str], *, tenant: str) -> TenantConfig:
    return parse_config(raw, tenant=tenant, from_strings=True)
