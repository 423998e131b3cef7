"""A token the host injects into the environment (Pandium's ``PAN_SEC_FORTNOX_OAUTH_*``), parsed and checked.

The host runs the OAuth flow and refreshes; the connector only reads what it was given. Every problem is a
``ConfigError`` naming the variable, the tenant and the fix, and no message ever contains a value of these
variables (Pandium classes all of them as secrets, so not even the expiry is echoed).

- ``ACCESS_TOKEN`` is required.
- ``EXPIRES_AT`` (epoch seconds, or ISO 8601 / Go's ``2021-07-24 20:04:21 +0000 UTC``; a time without a zone
  is UTC) wins over ``EXPIRES_IN`` (seconds from now: the host injects at the start of the run, so this is at
  worst a little late, and a 401 from Fortnox still stops the run cleanly). With neither, the token is
  assumed to live ``ASSUMED_LIFETIME_S`` (Fortnox access tokens live one hour).
- ``SCOPE`` is space- or comma-separated; absent means unknown (empty set), and Fortnox decides.
- ``CLIENT_ID`` keys the rate-limit pacer; absent, every injected token of the process shares one pacer key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from fortnox_connector.auth.oauth import Clock, parse_scope, utc_now
from fortnox_connector.auth.providers import HOST_TOKEN_ENV, HostManagedTokens
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ConfigError
from fortnox_connector.secrets import Secret

PREFIX: Final = "PAN_SEC_FORTNOX_OAUTH_"
ACCESS_TOKEN_ENV: Final = HOST_TOKEN_ENV
SCOPE_ENV: Final = PREFIX + "SCOPE"
EXPIRES_IN_ENV: Final = PREFIX + "EXPIRES_IN"
EXPIRES_AT_ENV: Final = PREFIX + "EXPIRES_AT"
CLIENT_ID_ENV: Final = PREFIX + "CLIENT_ID"

ASSUMED_LIFETIME_S: Final = 3600
DEFAULT_CLIENT_ID: Final = "host-managed"

_RECONNECT_HINT: Final = (
    "reconnect the tenant's Fortnox connector in the host (Pandium: the tenant's Connector Status), "
    "so that it injects a current token."
)
_GO_TIME = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)\s*(?P<offset>[+-]\d\d:?\d\d)(?:\s+[A-Z]{2,5})?$"
)
_EPOCH_MS_THRESHOLD: Final = 100_000_000_000  # larger epoch values are milliseconds (year 5138 in seconds)


@dataclass(frozen=True, slots=True)
class InjectedToken:
    """What the host injected: the token and the OAuth client it was issued to."""

    token: Token
    client_id: str

    def provider(self, tenant: str, *, clock: Clock = utc_now) -> HostManagedTokens:
        """A token provider for the Fortnox client; it never refreshes, an expired token is the host's."""
        return HostManagedTokens(tenant, self.token, clock=clock, source=ACCESS_TOKEN_ENV)


def parse_injected_token(env: Mapping[str, str], *, tenant: str, now: Clock = utc_now) -> InjectedToken:
    """Read ``PAN_SEC_FORTNOX_OAUTH_*`` from ``env`` (blank counts as missing)."""
    raw = _get(env, ACCESS_TOKEN_ENV)
    if raw is None:
        raise ConfigError(
            f"{ACCESS_TOKEN_ENV} is not set: the host injected no Fortnox access token",
            field=ACCESS_TOKEN_ENV,
            tenant=tenant,
            hint=_RECONNECT_HINT,
        )
    if any(c.isspace() for c in raw):
        raise ConfigError(
            f"{ACCESS_TOKEN_ENV} is malformed (it contains whitespace)",
            field=ACCESS_TOKEN_ENV,
            tenant=tenant,
            hint="inject the bare access token, without 'Bearer ' or line breaks; " + _RECONNECT_HINT,
        )
    current = now()
    expires_at = _expires_at(env, tenant, current)
    scope_raw = _get(env, SCOPE_ENV)
    token = Token(
        access_token=Secret(raw),
        expires_at=expires_at,
        scope=parse_scope(scope_raw) if scope_raw is not None else frozenset(),
    )
    return InjectedToken(token=token, client_id=_get(env, CLIENT_ID_ENV) or DEFAULT_CLIENT_ID)


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _expires_at(env: Mapping[str, str], tenant: str, now: datetime) -> datetime:
    at = _get(env, EXPIRES_AT_ENV)
    if at is not None:
        parsed = parse_instant(at)
        if parsed is None:
            raise ConfigError(
                f"{EXPIRES_AT_ENV} is malformed: expected epoch seconds or an ISO 8601 time",
                field=EXPIRES_AT_ENV,
                tenant=tenant,
                hint="inject e.g. 1767225600 or 2026-01-01T00:00:00Z; " + _RECONNECT_HINT,
            )
        return parsed
    within = _get(env, EXPIRES_IN_ENV)
    if within is not None:
        try:
            seconds = float(within)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(
                f"{EXPIRES_IN_ENV} is malformed: expected a non-negative number of seconds",
                field=EXPIRES_IN_ENV,
                tenant=tenant,
                hint="inject e.g. 3600; " + _RECONNECT_HINT,
            )
        return now + timedelta(seconds=seconds)
    return now + timedelta(seconds=ASSUMED_LIFETIME_S)


def parse_instant(text: str) -> datetime | None:
    """An aware UTC datetime from epoch seconds (or milliseconds), ISO 8601 or Go's time format; else None."""
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or number < 0:
            return None
        if number >= _EPOCH_MS_THRESHOLD:
            number /= 1000
        try:
            return datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    go = _GO_TIME.match(value)
    if go is not None:
        value = f"{go['stamp']}{go['offset']}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
