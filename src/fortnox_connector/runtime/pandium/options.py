"""The tenant's Pandium-only settings (``PAN_CFG_*``, from the form in ``PANDIUM.yaml``) and their secrets.

They are not connector config (``schemas/config.json``): they say how a Pandium run talks to the partner
system, so they are split off before the rest is read as the connector's ``TenantConfig``.

- ``event_delivery``: ``webhook`` (default) POSTs each event to ``sink_url`` through the runtime's webhook
  sink, signed with ``PAN_SEC_EVENT_SINK_SECRET``; ``stdout`` prints the events in the run's JSON document
  instead, for small volumes (bounded: ``FORTNOX_PANDIUM_STDOUT_MAX_BYTES``, see ``docs/pandium.md``).
- ``sink_url``: the partner's receiver; https, or http on loopback (a local test receiver).
- ``sink_batch``: one request per page of events (``{"events": [...]}``, up to 500) instead of one per
  event: far fewer requests inside Pandium's ten-minute limit, for a receiver that reads batches.
- ``allow_unsigned_requests``: accept webhook and API triggers that carry no Standard Webhooks signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from fortnox_connector.errors import ConfigError
from fortnox_connector.secrets import Secret

SINK_SECRET_ENV: Final = "PAN_SEC_EVENT_SINK_SECRET"  # noqa: S105 - a variable name, not a secret
FIELDS: Final = ("event_delivery", "sink_url", "sink_batch", "allow_unsigned_requests")
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0", ""})

Delivery = Literal["webhook", "stdout"]


@dataclass(frozen=True, slots=True)
class PandiumOptions:
    event_delivery: Delivery = "webhook"
    sink_url: str | None = None
    sink_batch: bool = False
    allow_unsigned_requests: bool = False


def split_options(raw: Mapping[str, str], *, tenant: str) -> tuple[PandiumOptions, dict[str, str]]:
    """The Pandium-only settings, and the rest (the connector's config, still as strings)."""
    rest = {k: v for k, v in raw.items() if k not in FIELDS}
    delivery = raw.get("event_delivery", "").strip().lower() or "webhook"
    if delivery not in ("webhook", "stdout"):
        raise _bad("event_delivery", f"{delivery!r} is not a delivery", "use 'webhook' or 'stdout'", tenant)
    url = raw.get("sink_url", "").strip() or None
    if url is not None:
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if not (parts.scheme == "https" and parts.hostname) and not loopback:
            raise _bad(
                "sink_url",
                "is not an https URL",
                "give the receiver's https://… URL (http only on loopback)",
                tenant,
            )
    options = PandiumOptions(
        "webhook" if delivery == "webhook" else "stdout",
        url,
        _flag(raw, "sink_batch", tenant),
        _flag(raw, "allow_unsigned_requests", tenant),
    )
    return options, rest


def _flag(raw: Mapping[str, str], name: str, tenant: str) -> bool:
    value = raw.get(name, "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise _bad(name, f"{value!r} is not true or false", "use true or false", tenant)
    return value in _TRUE


def require_sink(options: PandiumOptions, env: Mapping[str, str], *, tenant: str) -> tuple[str, Secret]:
    """The sink's URL and secret, for a run that polls with ``event_delivery=webhook``."""
    if options.sink_url is None:
        raise _bad(
            "sink_url",
            "is not set, and events go to the webhook sink",
            "set the receiver's URL in the tenant's settings, or set event_delivery to stdout "
            "(small volumes only)",
            tenant,
        )
    secret = env.get(SINK_SECRET_ENV, "").strip()
    if not secret:
        raise ConfigError(
            f"{SINK_SECRET_ENV} is not set: the webhook sink signs every event",
            field=SINK_SECRET_ENV,
            tenant=tenant,
            hint="add the Standard Webhooks secret shared with the receiver (whsec_…) "
            "to the integration's secrets",
        )
    return options.sink_url, Secret(secret)


def _bad(name: str, what: str, hint: str, tenant: str) -> ConfigError:
    return ConfigError(f"the setting {name} {what}", field=name, tenant=tenant, hint=hint)
