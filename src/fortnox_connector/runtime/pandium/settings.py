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
- ``FORTNOX_PANDIUM_STDOUT_MAX_BYTES``: the bound on the events printed when a tenant chose
  ``event_delivery=stdout`` (default 1 000 000 bytes of events); past it the run stops polling, the rest
  follows in the next runs.
- ``FORTNOX_PANDIUM_SINK_ATTEMPTS``: how often the webhook sink tries one event before the run fails
  (default 5, with its backoff).
- ``FORTNOX_PANDIUM_SIGNATURE_TOLERANCE_SECONDS``: how old a signed trigger may be (default 1200).
- ``FORTNOX_LOG_FORMAT`` (``text`` or ``json``) and ``FORTNOX_CONNECTOR_LOG_LEVEL`` (the CLI's name; the
  older ``FORTNOX_LOG_LEVEL`` is still honoured).
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
from fortnox_connector.runtime.tenant_ids import check_tenant_id

RUN_MODE_ENV: Final = "PAN_CTX_RUN_MODE"
TENANT_ID_ENV: Final = "PAN_CTX_TENANT_ID"
TENANT_NAME_ENV: Final = "PAN_CTX_TENANT_NAME"
METADATA_FILE_ENV: Final = "PAN_CTX_TENANT_METADATA_FILE"
LAST_STDOUT_ENV: Final = "PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT"
CONFIG_PREFIX: Final = "PAN_CFG_"

BASE_URL_ENV: Final = API_URL_ENV  # one variable for the API base URL, in every run mode
DEADLINE_ENV: Final = "FORTNOX_PANDIUM_DEADLINE_SECONDS"
MAX_EVENTS_ENV: Final = "FORTNOX_PANDIUM_MAX_EVENTS"
STDOUT_MAX_BYTES_ENV: Final = "FORTNOX_PANDIUM_STDOUT_MAX_BYTES"
SINK_ATTEMPTS_ENV: Final = "FORTNOX_PANDIUM_SINK_ATTEMPTS"
TOLERANCE_ENV: Final = "FORTNOX_PANDIUM_SIGNATURE_TOLERANCE_SECONDS"
LOG_FORMAT_ENV: Final = "FORTNOX_LOG_FORMAT"
LOG_LEVEL_ENV: Final = "FORTNOX_CONNECTOR_LOG_LEVEL"  # the one name, as the CLI's --log-level
LEGACY_LOG_LEVEL_ENV: Final = "FORTNOX_LOG_LEVEL"  # still honoured

DEFAULT_DEADLINE_S: Final = 540.0  # Pandium stops a run at 10 minutes; stop starting polls at 9
MAX_DEADLINE_S: Final = 600.0
DEFAULT_STDOUT_MAX_BYTES: Final = 1_000_000  # ~1 300 payment events; a Pandium state document stays small
DEFAULT_SINK_ATTEMPTS: Final = 5
DEFAULT_TOLERANCE_S: Final = 1200.0  # a trigger waits for the run in flight (up to ten minutes), twice

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})

RunMode = Literal["init", "normal", "webhook"]


@dataclass(frozen=True, slots=True)
class PandiumSettings:
    run_mode: RunMode
    tenant: str  # Pandium's tenant id (stable), else its name
    tenant_name: str | None
    base_url: str
    deadline_s: float
    max_events: int | None  # a soft cap on the events one run prints (None: no cap)
    stdout_max_bytes: int  # the bound on events printed with event_delivery=stdout
    sink_attempts: int
    signature_tolerance_s: float
    log_json: bool
    log_level: str
    config: Mapping[str, str] = field(default_factory=dict)  # PAN_CFG_* without the prefix, lower case

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PandiumSettings:
        tenant_name = _get(env, TENANT_NAME_ENV)
        tenant = _tenant(env, tenant_name)
        return cls(
            run_mode=_run_mode(env, tenant),
            tenant=tenant,
            tenant_name=tenant_name,
            base_url=_base_url(env, tenant),
            deadline_s=_deadline(env, tenant),
            max_events=_positive_int(env, MAX_EVENTS_ENV, tenant, "5000"),
            stdout_max_bytes=_positive_int(env, STDOUT_MAX_BYTES_ENV, tenant, "1000000")
            or DEFAULT_STDOUT_MAX_BYTES,
            sink_attempts=min(
                _positive_int(env, SINK_ATTEMPTS_ENV, tenant, "5") or DEFAULT_SINK_ATTEMPTS, 10
            ),
            signature_tolerance_s=float(
                _positive_int(env, TOLERANCE_ENV, tenant, "1200") or DEFAULT_TOLERANCE_S
            ),
            log_json=_log_json(env, tenant),
            log_level=_log_level(env, tenant),
            config={
                key[len(CONFIG_PREFIX) :].lower(): value
                for key, value in env.items()
                if key.startswith(CONFIG_PREFIX) and len(key) > len(CONFIG_PREFIX)
            },
        )


def _tenant(env: Mapping[str, str], name: str | None) -> str:
    """``PAN_CTX_TENANT_ID``, required: without it every run would share one made-up tenant (its logs,
    dedup keys and ledger), which is never right; a bad id is refused like any tenant id."""
    tenant = _get(env, TENANT_ID_ENV)
    if tenant is None:
        raise ConfigError(
            f"{TENANT_ID_ENV} is not set" + (f" (the tenant is named {name!r})" if name else ""),
            field=TENANT_ID_ENV,
            hint=f"Pandium sets it on every run; to run by hand, export {TENANT_ID_ENV}=<the tenant's id>",
        )
    try:
        return check_tenant_id(tenant)
    except ConfigError as exc:
        raise ConfigError(f"{TENANT_ID_ENV}: {exc.message}", field=TENANT_ID_ENV, hint=exc.hint) from None


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value is not None and value.strip() else None


def _run_mode(env: Mapping[str, str], tenant: str) -> RunMode:
    mode = (_get(env, RUN_MODE_ENV) or "normal").lower()
    if mode == "init":
        return "init"
    if mode == "normal":
        return "normal"
    if mode == "webhook":
        return "webhook"
    raise ConfigError(
        f"{RUN_MODE_ENV}={mode!r} is not a mode this connector runs",
        field=RUN_MODE_ENV,
        tenant=tenant,
        hint="use 'init' (list the options a tenant picks from), 'normal' (poll the triggers, and run the "
        "actions API triggers carry) or 'webhook' (run the actions the webhook triggers carry).",
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


def _positive_int(env: Mapping[str, str], name: str, tenant: str, example: str) -> int | None:
    """The whole number ``name`` holds, or None when unset (the caller's default applies)."""
    raw = _get(env, name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"{name}={raw!r} is not a positive whole number",
            field=name,
            tenant=tenant,
            hint=f"unset it for the default, or give e.g. {example}.",
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
    name = LOG_LEVEL_ENV if _get(env, LOG_LEVEL_ENV) is not None else LEGACY_LOG_LEVEL_ENV
    level = (_get(env, name) or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"{name}={level!r} is not a log level",
            field=name,
            tenant=tenant,
            hint="use DEBUG, INFO, WARNING or ERROR (or unset it for INFO).",
        )
    return level
