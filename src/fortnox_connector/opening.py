"""Opening the Fortnox connector for one tenant: a host's ``TenantSpec`` → a ``TenantContext``.

The host gives only what a host has (tenant id, config, secrets by the manifest's names, a state store, a
clock, a logger); the connector builds the rest: the tenant's typed config, a token provider for its auth
mode, the Fortnox client with its pacing. The auth mode is the one the host names, else inferred from the
secrets: an ``access_token`` means the host manages tokens, a ``tenant_id`` a service account, otherwise the
authorization-code flow with tokens in the host's state store.

Pacing: on ``TenantSpec.rate_window`` when the host shares one between its processes (``shared_pacing``),
else within the process (``pacing.PACERS``). ``TenantSpec.extras`` the connector reads: ``pacers`` (a
``PacerRegistry`` to use instead of either: tests, tuning), ``tokens`` (a token provider the host already
holds for the tenant, e.g. the one a stream source uses too: then the connector builds none).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any, cast

from fortnox_connector.auth.injected import parse_injected_token
from fortnox_connector.auth.oauth import FortnoxOAuth
from fortnox_connector.auth.providers import (
    AuthorizationCodeTokens,
    ClientCredentialsTokens,
    OnRefresh,
    adopt_refresh_token,
)
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import TenantSpec
from fortnox_connector.contract.state import Token
from fortnox_connector.declaration.config import parse_config
from fortnox_connector.declaration.loader import load_declaration
from fortnox_connector.declaration.manifest import AuthMode, Declaration
from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox.client import FortnoxClient, TokenProvider
from fortnox_connector.fortnox.shared_pacing import pacers_for
from fortnox_connector.secrets import Secret

LOGGER = "fortnox_connector"


def auth_mode(spec: TenantSpec) -> str:
    """The tenant's auth mode: the host's choice, else what its secrets imply."""
    if spec.auth_mode:
        return spec.auth_mode
    if _value(spec, "access_token"):
        return "host_managed"
    return "client_credentials" if _value(spec, "tenant_id") else "authorization_code"


@contextmanager
def open_context(spec: TenantSpec) -> Iterator[TenantContext]:
    """The tenant's context for the ``with`` block; its HTTP clients are closed afterwards."""
    decl = load_declaration()
    config = parse_config(spec.config, tenant=spec.id)
    mode = auth_mode(spec)
    secrets = _secrets(decl, spec, mode)
    with ExitStack() as stack:
        tokens, client_id = _tokens(decl, spec, mode, secrets, stack)
        given = spec.extras.get("tokens")
        if given is not None:
            tokens = cast(TokenProvider, given)
        client = FortnoxClient(
            tenant=spec.id,
            tokens=tokens,
            client_id=client_id,
            base_url=_base_url(decl, spec, "api"),
            transport=spec.transport,
            pacers=pacers_for(spec.extras.get("pacers"), spec.rate_window),
        )
        stack.callback(client.close)
        yield TenantContext(spec.id, config, client, spec.state, spec.clock, _logger(spec))


def _tokens(
    decl: Declaration, spec: TenantSpec, mode: str, secrets: Mapping[str, Secret | str], stack: ExitStack
) -> tuple[TokenProvider, str]:
    """The token provider for ``mode`` and the OAuth client id it paces under."""
    if mode == "host_managed":
        env = {decl.secret(name).env: _text(value) for name, value in secrets.items()}
        injected = parse_injected_token(env, tenant=spec.id, now=spec.clock)
        return injected.provider(spec.id, clock=spec.clock), injected.client_id
    client_id = _text(secrets["client_id"])
    oauth = FortnoxOAuth(
        client_id,
        Secret(_text(secrets["client_secret"])),
        auth_base_url=_base_url(decl, spec, "auth"),
        transport=spec.transport,
        clock=spec.clock,
    )
    stack.callback(oauth.close)
    on_refresh = _on_refresh(spec)
    if mode == "client_credentials":
        tenant_id = _text(secrets["tenant_id"])
        return ClientCredentialsTokens(
            spec.id, tenant_id, oauth, clock=spec.clock, on_refresh=on_refresh
        ), client_id
    seed = secrets.get("refresh_token")
    if seed is not None and spec.state.load_token(spec.id) is None:
        adopt_refresh_token(spec.id, oauth, spec.state, Secret(_text(seed)), on_refresh=on_refresh)
    return AuthorizationCodeTokens(
        spec.id, oauth, spec.state, clock=spec.clock, on_refresh=on_refresh
    ), client_id


def _secrets(decl: Declaration, spec: TenantSpec, mode: str) -> dict[str, Secret | str]:
    """The secrets ``mode`` reads, by the manifest's names; a required one missing is a ``ConfigError``."""
    if decl.auth.mode(mode) is None:
        raise ConfigError(
            f"there is no auth mode {mode!r}",
            field="auth_mode",
            tenant=spec.id,
            hint=f"choose one of: {', '.join(m.name for m in decl.auth.modes)}",
        )
    known = cast(AuthMode, mode)
    out: dict[str, Secret | str] = {}
    for secret in decl.secrets_for(known):
        value = _value(spec, secret.name)
        if value is not None:
            out[secret.name] = value
        elif secret.required_in(known):
            raise ConfigError(
                f"the {mode} auth mode needs the secret {secret.name!r}, which the host did not give",
                field=secret.name,
                tenant=spec.id,
                hint=f"give it in the tenant's secrets ({secret.description})",
            )
    return out


def _value(spec: TenantSpec, name: str) -> Secret | str | None:
    value: Any = spec.secrets.get(name)
    if isinstance(value, datetime):
        value = value.isoformat()
    if value is None or (not isinstance(value, Secret) and not str(value).strip()):
        return None
    return value if isinstance(value, Secret) else str(value).strip()


def _text(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _base_url(decl: Declaration, spec: TenantSpec, name: str) -> str:
    """The host's endpoint override, else the declaration's (its environment variable, else the default)."""
    return spec.endpoints.get(name) or decl.auth.base_url(name, os.environ)


def _on_refresh(spec: TenantSpec) -> OnRefresh | None:
    observer = spec.on_token_refreshed
    if observer is None:
        return None

    def told(tenant: str, token: Token) -> None:
        observer(tenant, token.expires_at, token.scope)  # never the token itself

    return told


def _logger(spec: TenantSpec) -> logging.LoggerAdapter[logging.Logger]:
    if isinstance(spec.log, logging.LoggerAdapter):
        return spec.log
    return logging.LoggerAdapter(spec.log or logging.getLogger(LOGGER), {"tenant": spec.id})
