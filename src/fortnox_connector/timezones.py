"""IANA time zones read from configuration, shared by the connector and the runtime (as ``errors`` is).

A tenant's schedule fires in its own zone (Fortnox speaks Europe/Stockholm); the connector checks the zone
when a config is read and the runtime again when it schedules, since a config stored before that check or
edited in the database must be refused for that tenant only, with the field and the fix.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fortnox_connector.errors import ConfigError

_SHOWN = 60  # characters of a bad value repeated in the message


def zone_of(name: str, *, tenant: str | None = None, what: str = "the tenant's config") -> ZoneInfo:
    """The IANA time zone ``name``, or a ``ConfigError`` on the ``timezone`` field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = name if len(name) <= _SHOWN else name[: _SHOWN - 1] + "…"
        raise ConfigError(
            f"{what}: timezone: {shown!r} is not a known timezone",
            field="timezone",
            tenant=tenant,
            hint="use an IANA name such as Europe/Stockholm",
        ) from None
