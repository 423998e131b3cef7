"""``connector.yaml`` as typed records: what a host reads before it runs anything.

``loader.load_declaration`` builds these from the validated YAML; nothing here does I/O except reading
base-URL overrides from the environment a host passes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from fortnox_connector.errors import ConfigError
from fortnox_connector.secrets import Secret

AuthMode = Literal["authorization_code", "client_credentials", "host_managed"]
AUTH_MODES: tuple[AuthMode, ...] = ("authorization_code", "client_credentials", "host_managed")
Need = Literal["required", "optional"]


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """One secret a host injects: its environment variable, whether it is sensitive, the modes that read it.

    ``modes`` maps each auth mode that reads it to ``"required"`` or ``"optional"``; ``format`` says what
    shapes are accepted (e.g. epoch seconds or ISO 8601). A sensitive value is held as a ``Secret``.
    """

    name: str
    env: str
    description: str
    sensitive: bool
    modes: Mapping[AuthMode, Need]
    format: str | None = None

    def used_in(self, mode: AuthMode) -> bool:
        return mode in self.modes

    def required_in(self, mode: AuthMode) -> bool:
        return self.modes.get(mode) == "required"


@dataclass(frozen=True, slots=True)
class AuthModeSpec:
    """An auth mode a host picks per tenant, and who refreshes the access token in it."""

    name: AuthMode
    description: str
    refreshed_by: Literal["connector", "host"]


@dataclass(frozen=True, slots=True)
class BaseUrl:
    """A base URL with its default and the environment variable that overrides it (the sandbox, a proxy)."""

    name: str
    default: str
    env: str

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        value = (os.environ if environ is None else environ).get(self.env, "").strip()
        return (value or self.default).rstrip("/")


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """OAuth 2.0 as Fortnox speaks it: endpoints (paths on the ``auth`` base URL), scopes, client auth."""

    type: str
    modes: tuple[AuthModeSpec, ...]
    authorize_path: str
    token_path: str
    revoke_path: str
    default_scopes: tuple[str, ...]
    token_endpoint_auth_method: str
    authorize_params: Mapping[str, str]
    base_urls: Mapping[str, BaseUrl]

    def mode(self, name: str) -> AuthModeSpec | None:
        return next((m for m in self.modes if m.name == name), None)

    def base_url(self, name: str, environ: Mapping[str, str] | None = None) -> str:
        """The base URL ``name`` (``api`` or ``auth``), overridden by its environment variable if set."""
        return self.base_urls[name].resolve(environ)

    def authorize_url(self, environ: Mapping[str, str] | None = None) -> str:
        return self.base_url("auth", environ) + self.authorize_path

    def token_url(self, environ: Mapping[str, str] | None = None) -> str:
        return self.base_url("auth", environ) + self.token_path

    def revoke_url(self, environ: Mapping[str, str] | None = None) -> str:
        return self.base_url("auth", environ) + self.revoke_path


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """When a host runs the triggers by default (a tenant's config may override it)."""

    cron: str
    timezone: str


@dataclass(frozen=True, slots=True)
class TriggerDecl:
    """A trigger as declared: its event schema (a path under ``schemas/``) and an example event.

    ``modes`` says how its events are produced: ``poll`` (a ``TriggerSpec`` a host polls) and/or ``stream``
    (emitted by a stream source, e.g. Fortnox's WebSocket feed; docs/stream.md). A stream-only trigger
    has no poll: Fortnox's lists never show what it reports (a deleted payment).
    """

    name: str
    description: str
    event_schema: str
    example: Mapping[str, Any] | None
    modes: tuple[str, ...] = ("poll",)

    @property
    def polled(self) -> bool:
        return "poll" in self.modes


@dataclass(frozen=True, slots=True)
class ActionDecl:
    """An action as declared: input and output schemas (paths under ``schemas/``) and an example of each."""

    name: str
    description: str
    input_schema: str
    output_schema: str
    example_input: Mapping[str, Any] | None
    example_output: Mapping[str, Any] | None
    scopes: tuple[str, ...] = ()  # the Fortnox scopes it needs (`check` probes them)


@dataclass(frozen=True, slots=True)
class Declaration:
    """The validated ``connector.yaml``."""

    id: str
    name: str
    version: str
    description: str
    allowed_hosts: tuple[str, ...]
    auth: AuthSpec
    secrets: tuple[SecretSpec, ...]
    config_schema: str
    schedule: ScheduleSpec
    triggers: tuple[TriggerDecl, ...]
    actions: tuple[ActionDecl, ...]

    def secret(self, name: str) -> SecretSpec:
        for s in self.secrets:
            if s.name == name:
                return s
        raise KeyError(name)

    def secrets_for(self, mode: AuthMode) -> tuple[SecretSpec, ...]:
        """The secrets ``mode`` reads (required and optional), in manifest order."""
        return tuple(s for s in self.secrets if s.used_in(mode))

    def read_secrets(
        self, mode: str, environ: Mapping[str, str] | None = None, *, tenant: str | None = None
    ) -> dict[str, Secret | str]:
        """What ``mode`` reads from ``environ`` (default: the process's), by secret name.

        Sensitive values come back as ``Secret``; blank counts as absent; an absent optional secret is left
        out. A required one absent is a ``ConfigError`` naming the variable, the tenant and the fix — never
        a value. Parsing (expiry, scope) is the auth code's job; this only checks presence.
        """
        if self.auth.mode(mode) is None:
            raise ConfigError(
                f"there is no auth mode {mode!r}",
                field="auth_mode",
                tenant=tenant,
                hint=f"choose one of: {', '.join(m.name for m in self.auth.modes)}",
            )
        env = os.environ if environ is None else environ
        known = cast(AuthMode, mode)
        out: dict[str, Secret | str] = {}
        for spec in self.secrets_for(known):
            value = env.get(spec.env, "").strip()
            if value:
                out[spec.name] = Secret(value) if spec.sensitive else value
            elif spec.required_in(known):
                raise ConfigError(
                    f"the {mode} auth mode needs ${spec.env}, which is not set",
                    field=spec.env,
                    tenant=tenant,
                    hint=f"have the host inject ${spec.env} for this tenant: {spec.description}",
                )
        return out

    def trigger(self, name: str) -> TriggerDecl:
        for t in self.triggers:
            if t.name == name:
                return t
        raise KeyError(name)

    def action(self, name: str) -> ActionDecl:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)
