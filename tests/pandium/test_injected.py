"""The host-injected token (PAN_SEC_FORTNOX_OAUTH_*): every accepted shape, every refusal, never the token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fortnox_connector.auth.injected import (
    ACCESS_TOKEN_ENV,
    ASSUMED_LIFETIME_S,
    CLIENT_ID_ENV,
    DEFAULT_CLIENT_ID,
    EXPIRES_AT_ENV,
    EXPIRES_IN_ENV,
    SCOPE_ENV,
    parse_injected_token,
    parse_instant,
)
from fortnox_connector.errors import ConfigError, TokenExpired

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOjF9.injected-token-signature"


def now() -> datetime:
    return NOW


def env(**values: str) -> dict[str, str]:
    return {ACCESS_TOKEN_ENV: TOKEN, **values}


def test_a_full_injection_becomes_a_token() -> None:
    injected = parse_injected_token(
        env(
            **{
                SCOPE_ENV: "invoice payment,settings",
                EXPIRES_IN_ENV: "3600",
                CLIENT_ID_ENV: "app-123",
            }
        ),
        tenant="acme",
        now=now,
    )
    assert injected.token.access_token.reveal() == TOKEN
    assert injected.token.scope == frozenset({"invoice", "payment", "settings"})
    assert injected.token.expires_at == NOW + timedelta(hours=1)
    assert injected.token.refresh_token is None
    assert injected.client_id == "app-123"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1795417200", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),
        ("1795417200000", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),  # milliseconds
        ("1795417200.5", datetime(2026, 11, 23, 7, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-23T07:00:00Z", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),
        ("2026-11-23T08:00:00+01:00", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),
        ("2026-11-23 07:00:00 +0000 UTC", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),  # Go's time.String
        ("2026-11-23 08:00:00.123456789 +0100 CET", datetime(2026, 11, 23, 7, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-23T07:00:00", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_expires_at_accepts_epoch_and_iso(value: str, expected: datetime) -> None:
    injected = parse_injected_token(env(**{EXPIRES_AT_ENV: value}), tenant="acme", now=now)
    assert injected.token.expires_at == expected
    assert injected.token.expires_at.tzinfo is not None


def test_expires_at_wins_over_expires_in() -> None:
    injected = parse_injected_token(
        env(**{EXPIRES_AT_ENV: "2026-11-23T07:10:00Z", EXPIRES_IN_ENV: "3600"}), tenant="acme", now=now
    )
    assert injected.token.expires_at == NOW + timedelta(minutes=10)


def test_without_expiry_or_scope_or_client_the_defaults_apply() -> None:
    injected = parse_injected_token(env(**{SCOPE_ENV: "  ", EXPIRES_IN_ENV: ""}), tenant="acme", now=now)
    assert injected.token.expires_at == NOW + timedelta(seconds=ASSUMED_LIFETIME_S)
    assert injected.token.scope == frozenset()
    assert injected.client_id == DEFAULT_CLIENT_ID


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({ACCESS_TOKEN_ENV: ""}, ACCESS_TOKEN_ENV),
        ({ACCESS_TOKEN_ENV: f"Bearer {TOKEN}"}, ACCESS_TOKEN_ENV),
        ({EXPIRES_AT_ENV: "next tuesday"}, EXPIRES_AT_ENV),
        ({EXPIRES_AT_ENV: "-5"}, EXPIRES_AT_ENV),
        ({EXPIRES_AT_ENV: "NaN"}, EXPIRES_AT_ENV),
        ({EXPIRES_IN_ENV: "an hour"}, EXPIRES_IN_ENV),
        ({EXPIRES_IN_ENV: "-1"}, EXPIRES_IN_ENV),
        ({EXPIRES_IN_ENV: "inf"}, EXPIRES_IN_ENV),
    ],
)
def test_a_bad_value_names_variable_tenant_and_fix(values: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_injected_token(env(**values), tenant="acme", now=now)
    err = caught.value
    assert err.field == field
    assert err.tenant == "acme"
    assert err.hint
    text = str(err)
    assert field in text
    assert "tenant acme" in text
    assert TOKEN not in text
    for value in values.values():
        if value.strip():
            assert value not in text  # PAN_SEC_ values are never echoed


def test_a_missing_token_is_refused_even_when_the_rest_is_there() -> None:
    with pytest.raises(ConfigError, match=ACCESS_TOKEN_ENV):
        parse_injected_token({EXPIRES_IN_ENV: "3600"}, tenant="acme", now=now)


def test_the_provider_refuses_an_expired_token_and_never_refreshes() -> None:
    injected = parse_injected_token(env(**{EXPIRES_AT_ENV: "2026-11-23T06:59:59Z"}), tenant="acme", now=now)
    provider = injected.provider("acme", clock=now)
    with pytest.raises(TokenExpired) as caught:
        provider.access_token()
    assert ACCESS_TOKEN_ENV in str(caught.value)
    assert "tenant acme" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_the_provider_hands_out_a_current_token() -> None:
    injected = parse_injected_token(env(**{EXPIRES_IN_ENV: "60"}), tenant="acme", now=now)
    assert injected.provider("acme", clock=now).access_token().reveal() == TOKEN


@pytest.mark.parametrize("text", ["", "x", "2026-13-01T00:00:00Z", "1e400", "99999999999999999999999"])
def test_parse_instant_refuses_nonsense(text: str) -> None:
    assert parse_instant(text) is None
