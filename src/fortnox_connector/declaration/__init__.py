"""``connector.yaml`` and its JSON Schemas: loaded, validated, and turned into typed settings.

- ``load_declaration()``: the validated ``connector.yaml`` as a ``Declaration`` (manifest records);
- ``load_schema(relpath)``: a schema from ``schemas/``, self-contained, from a checkout or a wheel;
- ``parse_config(data, tenant=…, from_strings=…)``: a tenant's config as a ``TenantConfig``.
"""

from fortnox_connector.declaration.config import TenantConfig, parse_config
from fortnox_connector.declaration.loader import load_declaration, parse_declaration
from fortnox_connector.declaration.manifest import (
    AUTH_MODES,
    ActionDecl,
    AuthMode,
    AuthModeSpec,
    AuthSpec,
    BaseUrl,
    Declaration,
    ScheduleSpec,
    SecretSpec,
    TriggerDecl,
)
from fortnox_connector.declaration.schemas import load_schema

__all__ = [
    "AUTH_MODES",
    "ActionDecl",
    "AuthMode",
    "AuthModeSpec",
    "AuthSpec",
    "BaseUrl",
    "Declaration",
    "ScheduleSpec",
    "SecretSpec",
    "TenantConfig",
    "TriggerDecl",
    "load_declaration",
    "load_schema",
    "parse_config",
    "parse_declaration",
]
