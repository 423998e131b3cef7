"""Fuzz: a tenant's config (JSON values and environment strings) and Pandium's run environment.

Silent acceptance is judged independently: an accepted config the JSON Schema refuses, or whose schedule
never fires or whose time zone is unknown; an accepted Pandium environment with an unusable tenant id or
deadline.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
from croniter import croniter
from hypothesis import given
from hypothesis import strategies as st

from fortnox_connector.auth.injected import parse_injected_token
from fortnox_connector.declaration.config import TenantConfig, parse_config
from fortnox_connector.declaration.schemas import load_schema
from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.pandium.config import tenant_config as pandium_config
from fortnox_connector.runtime.pandium.run_triggers import read_run_triggers
from fortnox_connector.runtime.pandium.settings import PandiumSettings
from fortnox_connector.runtime.pandium.state import load_previous_state
from tests.hardening.outcomes import tally
from tests.hardening.strategies import FUZZ, JSON, env_strings, mutated

SCHEMA_CHECK = jsonschema.Draft202012Validator(load_schema("config.json"))
VALID: dict[str, Any] = {
    "backfill_days": 30,
    "ignore_payments_before": "2026-01-01",
    "ignore_invoice_numbers_below": 100,
    "schedule": "0 23 * * *",
    "timezone": "Europe/Stockholm",
    "emit_unbooked_payments": False,
    "lastmodified_overlap_minutes": 90,
    "default_mode_of_payment": "BG",
    "default_mode_of_payment_account": 1930,
    "bookkeep_payments": True,
    "allow_overpayment": False,
    "currency_rate_band_percent": 50,
}
KEYS = sorted(VALID)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _config_judge(data: Any, *, strings: bool) -> Any:
    def silent(config: TenantConfig) -> str | None:
        if not strings and not SCHEMA_CHECK.is_valid(data):
            return f"schema-invalid config accepted: {data!r}"[:200]
        try:
            croniter(config.schedule, datetime.now(ZoneInfo(config.timezone))).get_next(datetime)
        except Exception as exc:
            return f"schedule {config.schedule!r} in {config.timezone!r}: {type(exc).__name__}"
        if not 65 <= config.lastmodified_overlap_minutes <= 1440 or not 0 <= config.backfill_days <= 3650:
            return "a bound broken"
        return None

    return silent


@FUZZ
@given(st.one_of(mutated(VALID, KEYS), JSON))
def test_tenant_config_values(data: Any) -> None:
    t = tally("tenant config (JSON)")
    t.attempt(
        lambda: parse_config(data, tenant="t1"),
        clear=(ConnectorError,),
        silent=_config_judge(data, strings=False),
    )
    t.assert_clean()


@FUZZ
@given(env_strings([k.upper() for k in KEYS] + ["SCHEDULE ", "unknown_setting"]))
def test_tenant_config_from_environment_strings(raw: dict[str, str]) -> None:
    t = tally("tenant config (strings)")
    t.attempt(
        lambda: parse_config(raw, tenant="t1", from_strings=True),
        clear=(ConnectorError,),
        silent=_config_judge(raw, strings=True),
    )
    t.assert_clean()


@FUZZ
@given(env_strings([k.upper() for k in KEYS] + ["EVENT_DELIVERY", "WEBHOOK_URL", "ALLOW_UNSIGNED_REQUESTS"]))
def test_pandium_config_strings(raw: dict[str, str]) -> None:
    t = tally("Pandium PAN_CFG_*")
    t.attempt(
        lambda: pandium_config({k.lower(): v for k, v in raw.items()}, tenant="t1"), clear=(ConnectorError,)
    )
    t.assert_clean()


PANDIUM_ENV = [
    "PAN_CTX_RUN_MODE",
    "PAN_CTX_TENANT_ID",
    "PAN_CTX_TENANT_NAME",
    "PAN_CTX_RUN_TRIGGERS",
    "PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT",
    "FORTNOX_API_URL",
    "FORTNOX_PANDIUM_DEADLINE_SECONDS",
    "FORTNOX_PANDIUM_MAX_EVENTS",
    "FORTNOX_PANDIUM_STDOUT_MAX_BYTES",
    "FORTNOX_PANDIUM_SINK_ATTEMPTS",
    "FORTNOX_PANDIUM_SIGNATURE_TOLERANCE_SECONDS",
    "FORTNOX_LOG_FORMAT",
    "FORTNOX_CONNECTOR_LOG_LEVEL",
    "FORTNOX_LOG_LEVEL",
    "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN",
    "PAN_SEC_FORTNOX_OAUTH_SCOPE",
    "PAN_SEC_FORTNOX_OAUTH_EXPIRES_IN",
    "PAN_SEC_FORTNOX_OAUTH_EXPIRES_AT",
    "PAN_SEC_FORTNOX_OAUTH_CLIENT_ID",
]
BASE_ENV = {
    "PAN_CTX_RUN_MODE": "normal",
    "PAN_CTX_TENANT_ID": "4711",
    "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN": "an-access-token",
    "PAN_SEC_FORTNOX_OAUTH_EXPIRES_IN": "3600",
}
JSON_TEXT = st.one_of(
    JSON.map(lambda v: __import__("json").dumps(v, default=str)),
    st.just('[{"id": "1", "source": "schedule", "mode": "normal"}]'),
    st.just('{"payment_received": {"cursor": 5}}'),
)


def _settings_judge(settings: PandiumSettings) -> str | None:
    if not settings.tenant or any(unicodedata.category(c).startswith("C") for c in settings.tenant):
        return f"tenant id {settings.tenant!r}"
    if not (math.isfinite(settings.deadline_s) and settings.deadline_s > 0):
        return f"deadline {settings.deadline_s}"
    return None


@FUZZ
@given(env_strings(PANDIUM_ENV), st.dictionaries(st.sampled_from(PANDIUM_ENV[3:5]), JSON_TEXT, max_size=2))
def test_pandium_environment(raw: dict[str, str], json_vars: dict[str, str]) -> None:
    env = {**BASE_ENV, **raw, **json_vars}
    t = tally("Pandium environment")
    t.attempt(lambda: PandiumSettings.from_env(env), clear=(ConnectorError,), silent=_settings_judge)
    t.attempt(lambda: read_run_triggers(env, tenant="t1"), clear=(ConnectorError,))
    t.attempt(
        lambda: load_previous_state(env, tenant="t1", trigger_names=["payment_received", "invoice_paid"]),
        clear=(ConnectorError,),
    )
    t.attempt(lambda: parse_injected_token(env, tenant="t1", now=lambda: NOW), clear=(ConnectorError,))
    t.assert_clean()
