"""What one Pandium run is told by its environment, read once and checked before any work starts.

Pandium injects ``PAN_CTX_*`` (context it controls), ``PAN_CFG_*`` (the tenant's connection settings, all
strings) and ``PAN_SEC_*`` (secrets; read by ``auth.injected``). Operator knobs that a tenant must not be able
to change are plain ``FORTNOX_*`` variables, set on the ``run`` line of ``PANDIUM.yaml``:

- ``FORTNOX_API_URL``: the Fortnox API (the sandbox in tests). Deliberately not a ``PAN_CFG_`` setting:
  a tenant-editable URL would let anyone with access to the settings form send the token elsewhere.
- ``FORTNOX_PANDIUM_DEADLINE_SECONDS``: when to stop starting polls (default 540 s, a minute inside
  Pandium's ten-minute limit; a run killed at the limit is "Failed (Timeout)" and keeps nothing).
- ``FORTNOX_PANDIUM_MAX_EVENTS``: a soft cap on the events one run prints (default none); the rest follow
  in the next runs, as after the deadline.
- ``FORTNOX_LOG_FORMAT`` (``text`` or ``json``) and ``FORTNOX_LOG_LEVEL``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import urlsplit

from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox.client import DEFAULT_BASE_URL
from fortnox_connector.runtime.settings import API_URL_ENV

RUN_MODE_ENV: Final = "PAN_CTX_RUN_MODE"
TENANT_ID_ENV: Final = "PAN_CTX_TENANT_ID"
TENANT_NAME_ENV: Final = "PAN_CTX_TENANT_NAME"
METADATA_FILE_ENV: Final = "PAN_CTX_TENANT_METADATA_FILE"
LAST_STDOUT_ENV: Final = "PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT"
CONFIG_PREFIX: Final = "PAN_CFG_"

BASE_URL_ENV: Final = API_URL_ENV  # one variable for the API base URL, in every run mode
DEADLINE_ENV: Final = "FORTNOX_PANDIUM_DEADLINE_SECONDS"
MAX_EVENTS_ENV: Final = "FORTNOX_PANDIUM_MAX_EVENTS"
LOG_FORMAT_ENV: Final = "FORTNOX_LOG_FORMAT"
LOG_LEVEL_ENV: Final = "FORTNOX_LOG_LEVEL"

DEFAULT_DEADLINE_S: Final = 540.0  # Pandium stops a run at 10 minutes; stop starting polls at 9
MAX_DEADLINE_S: Final = 600.0
NO_TENANT: Final = "pandium-tenant"

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})

RunMode = Literal["init", "normal"]


@dataclass(frozen=True, slots=True)
class PandiumSettings:
    run_mode: RunMode
    tenant: str  # Pandium's tenant id (stable), else its name
    tenant_name: str | None
    base_url: str
    deadline_s: float
    max_events: int | None  # a soft cap on the events one run prints (None: no cap)
    log_json: bool
    log_level: str
    config: Mapping[str, str] = field(default_factory=dict)  # PAN_CFG_* without the prefix, lower case

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PandiumSettings:
        tenant_name = _get(env, TENANT_NAME_ENV)
        tenant = _get(env, TENANT_ID_ENV) or tenant_name or NO_TENANT
        return cls(
            run_mode=_run_mode(env, tenant),
            tenant=tenant,
            tenant_name=tenant_name,
            base_url=_base_url(env, tenant),
            deadline_s=_deadline(env, tenant),
            max_events=_max_events(env, tenant),
            log_json=_log_json(env, tenant),
            log_level=_log_level(env, tenant),
            config={
                key[len(CONFIG_PREFIX) :].lower(): value
                for key, value in env.items()
                if key.startswith(CONFIG_PREFIX) and len(key) > len(CONFIG_PREFIX)
            },
        )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value is not None and value.strip() else None


def _run_mode(env: Mapping[str, str], tenant: str) -> RunMode:
    mode = (_get(env, RUN_MODE_ENV) or "normal").lower()
    if mode == "init":
        return "init"
    if mode == "normal":
        return "normal"
    raise ConfigError(
        f"{RUN_MODE_ENV}={mode!r} is not a mode this connector runs",
        field=RUN_MODE_ENV,
        tenant=tenant,
        hint="use 'init' (list the options a tenant picks from) or 'normal' (poll the triggers); "
        "the connector receives no webhooks, so do not route 'webhook' runs to it.",
    )


def _base_url(env: Mapping[str, str], tenant: str) -> str:
    url = _get(env, BASE_URL_ENV) or DEFAULT_BASE_URL
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (parts.scheme == "https" and parts.hostname) and not loopback:
        raise ConfigError(
            f"{BASE_URL_ENV} must be an https URL (plain http only on loopback)",
            field=BASE_URL_ENV,
            tenant=tenant,
            hint=f"unset it to use {DEFAULT_BASE_URL}, or give the sandbox's http://127.0.0.1:PORT.",
        )
    return url.rstrip("/")


def _deadline(env: Mapping[str, str], tenant: str) -> float:
    raw = _get(env, DEADLINE_ENV)
    if raw is None:
        return DEFAULT_DEADLINE_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (0 < value <= MAX_DEADLINE_S):
        raise ConfigError(
            f"{DEADLINE_ENV}={raw!r} is not a number of seconds in (0, {MAX_DEADLINE_S:.0f}]",
            field=DEADLINE_ENV,
            tenant=tenant,
            hint=f"unset it for the default {DEFAULT_DEADLINE_S:.0f} s, or leave time to print the "
            "state before Pandium's ten-minute limit.",
        )
    return value


def _max_events(env: Mapping[str, str], tenant: str) -> int | None:
    raw = _get(env, MAX_EVENTS_ENV)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"{MAX_EVENTS_ENV}={raw!r} is not a positive whole number",
            field=MAX_EVENTS_ENV,
            tenant=tenant,
            hint="unset it for no cap, or give e.g. 5000 to keep each run's output small.",
        )
    return int(raw)


def _log_json(env: Mapping[str, str], tenant: str) -> bool:
    fmt = (_get(env, LOG_FORMAT_ENV) or "text").lower()
    if fmt not in ("text", "json"):
        raise ConfigError(
            f"{LOG_FORMAT_ENV}={fmt!r} is not a log format",
            field=LOG_FORMAT_ENV,
            tenant=tenant,
            hint="use 'text' or 'json'.",
        )
    return fmt == "json"


def _log_level(env: Mapping[str, str], tenant: str) -> str:
    level = (_get(env, LOG_LEVEL_ENV) or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"{LOG_LEVEL_ENV}={level!r} is not a log level",
            field=LOG_LEVEL_ENV,
            tenant=tenant,
            hint="use DEBUG, INFO, WARNING or ERROR (or unset it for INFO).",
        )
    return level
