"""The connector's error hierarchy.

Every error a user can see names the tenant it concerns and the fix, and never carries a secret:
messages are built from identifiers, codes and Fortnox's own text, never from tokens or credentials.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose.

    ``tenant`` is the host's tenant id (None before a tenant is known); ``hint`` says how to fix it.
    """

    def __init__(self, message: str, *, tenant: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tenant = tenant
        self.hint = hint

    def with_tenant(self, tenant: str) -> ConnectorError:
        """Return this error naming ``tenant`` (set once: an inner, more precise tenant wins)."""
        if self.tenant is None:
            self.tenant = tenant
        return self

    def __str__(self) -> str:
        where = f"tenant {self.tenant}: " if self.tenant else ""
        fix = f" Fix: {self.hint}" if self.hint else ""
        stop = "" if self.message.endswith(".") else "."
        return f"{where}{self.message}{stop}{fix}"


class ConfigError(ConnectorError):
    """A declaration, tenant config or secret is missing or breaks its schema. ``field`` names it."""

    def __init__(
        self, message: str, *, field: str | None = None, tenant: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, tenant=tenant, hint=hint)
        self.field = field


class UnknownTenant(ConfigError):
    """The host asked for a tenant nobody registered."""


class AuthError(ConnectorError):
    """Authentication with Fortnox failed."""


class ReconnectRequired(AuthError):
    """Consent is gone (refresh token used, expired or revoked): only the customer re-authorising fixes it.

    A host pauses the tenant and asks its user to reconnect; it never retries this in a loop.
    """


class TokenExpired(AuthError):
    """A token the host manages (``host_managed`` mode) has expired: the host must refresh and inject it."""


class DeliveryError(ConnectorError):
    """An event sink could not deliver: the cursor stays where it was."""
