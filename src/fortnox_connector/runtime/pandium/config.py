"""The tenant's ``PAN_CFG_*`` settings as a typed ``TenantConfig``.

Pandium passes every setting as a string; ``declaration.config.parse_config(..., from_strings=True)``
coerces them by ``schemas/config.json`` and names the field, tenant and fix on error.

TEMPORARY: until ``parse_config`` is on main, ``_coerce`` below does the coercion by ``TenantConfig``'s
field types; it goes away when the contract lands.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from datetime import date
from typing import Any

from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import ConfigError


def tenant_config(raw: Mapping[str, str], *, tenant: str) -> TenantConfig:
    """Blank values are settings left empty in the form: they take their defaults."""
    raw = {key: value for key, value in raw.items() if value.strip()}
    module = importlib.import_module("fortnox_connector.declaration.config")
    parse = getattr(module, "parse_config", None)
    if parse is not None:
        config = parse(raw, tenant=tenant, from_strings=True)
        if not isinstance(config, TenantConfig):
            raise TypeError("parse_config returned no TenantConfig")
        return config
    return _coerce(raw, tenant)


def _coerce(raw: Mapping[str, str], tenant: str) -> TenantConfig:
    fields = {f.name: f for f in dataclasses.fields(TenantConfig)}
    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in fields:
            raise ConfigError(
                f"unknown setting {key!r}",
                field=key,
                tenant=tenant,
                hint=f"known settings: {', '.join(sorted(fields))}.",
            )
        kind = str(fields[key].type)
        try:
            if "bool" in kind:
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                values[key] = text.lower() == "true"
            elif "int" in kind:
                values[key] = int(text)
            elif "date" in kind:
                values[key] = date.fromisoformat(text)
            else:
                values[key] = text
        except ValueError:
            raise ConfigError(
                f"setting {key!r} is not a valid {kind}",
                field=key,
                tenant=tenant,
                hint="correct it in the tenant's connection settings.",
            ) from None
    return TenantConfig(**values)
