"""What a tenant id may be, and a service account's Fortnox tenant id (the company's DatabaseNumber).

A tenant id names the tenant in every log line, error, lock and dedup key, so it is checked where tenants
are made (the stores' ``add_tenant``): not empty, at most ``MAX_LENGTH`` characters, no surrounding
whitespace and no control or line-separator characters — a newline in an id once forged whole log lines.
A service account's Fortnox tenant id is the company's DatabaseNumber: digits only (connector.yaml's
``tenant_id`` secret), and what Fortnox answers for it must be the same number.
"""

from __future__ import annotations

import unicodedata

from fortnox_connector.errors import ConfigError

MAX_LENGTH = 100
MAX_DATABASE_NUMBER_DIGITS = 12
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, format, surrogates, separators


def check_tenant_id(tenant: object) -> str:
    """``tenant`` if it is a usable tenant id; else a ``ConfigError`` saying what is wrong and the fix."""
    hint = f"use a short name of letters, digits, '-', '_' or '.', at most {MAX_LENGTH} characters"
    if not isinstance(tenant, str) or not tenant:
        raise ConfigError("a tenant id must not be empty", field="tenant", hint=hint)
    shown = repr(tenant[:40] + ("…" if len(tenant) > 40 else ""))
    if len(tenant) > MAX_LENGTH:
        raise ConfigError(
            f"the tenant id {shown} is {len(tenant)} characters long (at most {MAX_LENGTH})",
            field="tenant",
            hint=hint,
        )
    if tenant != tenant.strip():
        raise ConfigError(f"the tenant id {shown} starts or ends with a space", field="tenant", hint=hint)
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in tenant):
        raise ConfigError(
            f"the tenant id {shown} contains a control character (a newline would forge log lines)",
            field="tenant",
            hint=hint,
        )
    return tenant


def check_database_number(value: object, *, tenant: str | None = None) -> str:
    """A service account's Fortnox tenant id: 1-12 ASCII digits (the company's DatabaseNumber)."""
    text = str(value).strip() if value is not None else ""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DATABASE_NUMBER_DIGITS or int(text) == 0:
        shown = repr(text[:40])
        raise ConfigError(
            f"the Fortnox tenant id {shown} is not a DatabaseNumber (digits only)",
            field="fortnox_tenant_id",
            tenant=tenant,
            hint="give the company's DatabaseNumber as Fortnox shows it (e.g. 1234567), digits only",
        )
    return text


def check_same_database_number(given: str, answered: str, *, tenant: str) -> None:
    """Refuse when Fortnox's DatabaseNumber for a service account is not the id the operator gave."""
    if answered and answered != given:
        raise ConfigError(
            f"the Fortnox tenant id given ({given}) is not the company's DatabaseNumber ({answered}); "
            "nothing was stored",
            field="fortnox_tenant_id",
            tenant=tenant,
            hint=f"check the number with the customer, then `fortnox-connector connect {tenant} "
            f"--service-account --fortnox-tenant-id {answered}` if that company is the right one",
        )
