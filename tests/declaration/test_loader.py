"""connector.yaml: the shipped declaration, and bad ones refused naming the field and the fix."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import fortnox_connector
from fortnox_connector.auth import injected
from fortnox_connector.auth.oauth import DEFAULT_AUTH_BASE_URL
from fortnox_connector.declaration import AUTH_MODES, load_declaration, parse_declaration
from fortnox_connector.declaration.loader import declaration_path
from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox.client import DEFAULT_BASE_URL
from fortnox_connector.secrets import Secret

PANDIUM = {
    "access_token": "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN",
    "scope": "PAN_SEC_FORTNOX_OAUTH_SCOPE",
    "expires_in": "PAN_SEC_FORTNOX_OAUTH_EXPIRES_IN",
    "expires_at": "PAN_SEC_FORTNOX_OAUTH_EXPIRES_AT",
    "injected_client_id": "PAN_SEC_FORTNOX_OAUTH_CLIENT_ID",
}


def raw() -> dict[str, Any]:
    data = yaml.safe_load(declaration_path().read_text())
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def test_the_shipped_declaration() -> None:
    decl = load_declaration()
    assert (decl.id, decl.name, decl.version) == ("fortnox", "Fortnox", fortnox_connector.__version__)
    assert decl.allowed_hosts == ("api.fortnox.se", "apps.fortnox.se")
    assert [m.name for m in decl.auth.modes] == list(AUTH_MODES)
    assert {m.name: m.refreshed_by for m in decl.auth.modes}["host_managed"] == "host"
    assert decl.auth.default_scopes == ("invoice", "payment", "companyinformation", "settings", "customer")
    assert decl.auth.token_endpoint_auth_method == "client_secret_basic"
    assert decl.auth.authorize_params == {"access_type": "offline"}
    assert decl.auth.authorize_url({}) == "https://apps.fortnox.se/oauth-v1/auth"
    assert decl.auth.token_url({}) == "https://apps.fortnox.se/oauth-v1/token"
    assert decl.auth.revoke_url({}) == "https://apps.fortnox.se/oauth-v1/revoke"
    assert decl.auth.base_url("api", {}) == "https://api.fortnox.se"
    assert (decl.schedule.cron, decl.schedule.timezone) == ("0 23 * * *", "Europe/Stockholm")
    assert decl.config_schema == "config.json"
    assert [t.name for t in decl.triggers] == ["payment_received", "invoice_paid", "payment_deleted"]
    assert [t.name for t in decl.triggers if t.polled] == ["payment_received", "invoice_paid"]
    assert [a.name for a in decl.actions] == [
        "register_payment",
        "get_invoice",
        "find_invoices",
        "upsert_customer",
        "export_invoice",
        "export_paid_invoice",
    ]
    assert load_declaration() is load_declaration()  # read once per process


def test_base_urls_are_overridable_for_the_sandbox() -> None:
    auth = load_declaration().auth
    env = {"FORTNOX_API_URL": "http://127.0.0.1:8080/", "FORTNOX_AUTH_URL": "http://127.0.0.1:8081"}
    assert auth.base_url("api", env) == "http://127.0.0.1:8080"
    assert auth.token_url(env) == "http://127.0.0.1:8081/oauth-v1/token"


def test_the_secrets_manifest() -> None:
    decl = load_declaration()
    envs = {s.name: s.env for s in decl.secrets}
    assert {k: envs[k] for k in PANDIUM} == PANDIUM
    assert {"refresh_token", "client_secret", "tenant_id"} <= set(envs)
    assert (envs["client_id"], envs["client_secret"]) == ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET")
    sensitive = {s.name for s in decl.secrets if s.sensitive}
    assert sensitive == {"access_token", "client_secret", "refresh_token"}
    required = {mode: {s.name for s in decl.secrets if s.required_in(mode)} for mode in AUTH_MODES}
    assert required == {
        "authorization_code": {"client_id", "client_secret"},
        "client_credentials": {"client_id", "client_secret", "tenant_id"},
        "host_managed": {"access_token"},
    }
    assert [s.name for s in decl.secrets_for("host_managed")] == list(PANDIUM)
    fmt = {s.name: s.format or "" for s in decl.secrets}
    assert "epoch seconds or ISO 8601" in fmt["expires_at"] and "comma" in fmt["scope"]
    assert all(s.description for s in decl.secrets)


def mutate(path: str, value: object) -> dict[str, Any]:
    """The shipped YAML with ``path`` (dotted, list indices as numbers) set to ``value`` (None: deleted)."""
    data = raw()
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("auth.token_path", None, "auth.token_path", "is required"),
        ("auth.base_urls.api.default", "ftp:/nope", "auth.base_urls.api.default", "expected form"),
        ("secrets.2.env", "lower_case", "secrets.2.env", "expected form"),
        ("secrets.0.modes", {"magic_link": "required"}, "secrets.0.modes", "magic_link"),
        ("secrets.0.sensitive", "yes", "secrets.0.sensitive", "is not of type 'boolean'"),
        ("surprise", 1, "surprise", "is not a known field"),
        (
            "triggers.0.event_schema",
            "http://evil.example/x.json",
            "triggers.0.event_schema",
            "is not in the expected form",
        ),
        ("actions.1.example.input", None, "actions.1.example.input", "is required"),
        ("version", "0.0.1", "version", "is not the package's version"),
        ("secrets.1.name", "access_token", "secrets.1.name", "appears twice"),
        ("auth.modes.2", None, "secrets.0.modes.host_managed", "'host_managed' is not declared"),
        ("actions.0.input_schema", "actions/nope.json", "actions.0.input_schema", "there is no schema"),
        ("schedule.cron", "0 25 * * *", "schedule.cron", "not a cron expression"),
        ("schedule.timezone", "Europe/Gothenburg", "schedule.timezone", "not a known timezone"),
    ],
)
def test_a_bad_declaration_names_the_field(path: str, value: object, field: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_declaration(mutate(path, value))
    assert err.value.field == field, str(err.value)
    assert reason in str(err.value)
    assert str(err.value).startswith(f"connector.yaml: {field}: ")
    assert err.value.hint


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text("id: fortnox\nname: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line 3") as err:
        load_declaration(path)
    assert err.value.field == "connector.yaml"
    with pytest.raises(ConfigError, match="no declaration at"):
        load_declaration(tmp_path / "missing.yaml")


def test_a_declaration_that_is_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"connector.yaml: \(top level\): .* is not of type 'object'"):
        parse_declaration(["id", "fortnox"])


def test_the_manifest_names_the_variables_the_code_reads() -> None:
    decl = load_declaration()
    assert decl.secret("access_token").env == injected.ACCESS_TOKEN_ENV
    assert decl.secret("scope").env == injected.SCOPE_ENV
    assert decl.secret("expires_in").env == injected.EXPIRES_IN_ENV
    assert decl.secret("expires_at").env == injected.EXPIRES_AT_ENV
    assert decl.secret("injected_client_id").env == injected.CLIENT_ID_ENV
    assert decl.auth.base_urls["api"].default == DEFAULT_BASE_URL
    assert decl.auth.base_urls["auth"].default == DEFAULT_AUTH_BASE_URL


def test_read_secrets_per_mode() -> None:
    decl = load_declaration()
    env = {
        "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN": "eyJ.token.sig",
        "PAN_SEC_FORTNOX_OAUTH_SCOPE": "invoice,payment",
    }
    got = decl.read_secrets("host_managed", env, tenant="acme")
    assert got == {"access_token": Secret("eyJ.token.sig"), "scope": "invoice,payment"}
    assert "eyJ" not in repr(got)
    env = {"FORTNOX_CLIENT_ID": "app", "FORTNOX_CLIENT_SECRET": "s3cr3t", "FORTNOX_TENANT_ID": " 100001 "}
    got = decl.read_secrets("client_credentials", env)
    assert got == {"client_id": "app", "client_secret": Secret("s3cr3t"), "tenant_id": "100001"}


@pytest.mark.parametrize(
    ("mode", "env", "missing"),
    [
        ("host_managed", {"PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN": "  "}, "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN"),
        (
            "client_credentials",
            {"FORTNOX_CLIENT_ID": "app", "FORTNOX_CLIENT_SECRET": "s3cr3t"},
            "FORTNOX_TENANT_ID",
        ),
        ("authorization_code", {"FORTNOX_CLIENT_ID": "app"}, "FORTNOX_CLIENT_SECRET"),
    ],
)
def test_a_missing_secret_names_the_variable_and_the_tenant(
    mode: str, env: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_declaration().read_secrets(mode, env, tenant="acme")
    assert err.value.field == missing and err.value.tenant == "acme"
    assert str(err.value).startswith(f"tenant acme: the {mode} auth mode needs ${missing}")
    assert "s3cr3t" not in str(err.value) and "app" not in str(err.value).split("needs")[0]


def test_read_secrets_refuses_an_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="no auth mode 'magic'") as err:
        load_declaration().read_secrets("magic", {}, tenant="acme")
    assert err.value.hint == "choose one of: authorization_code, client_credentials, host_managed"
