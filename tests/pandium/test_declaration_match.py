"""The Pandium mode reads exactly what connector.yaml tells hosts to inject."""

from __future__ import annotations

from fortnox_connector.auth import injected
from fortnox_connector.declaration import load_declaration
from fortnox_connector.runtime.pandium import settings


def test_the_host_managed_secrets_are_the_ones_the_pandium_mode_reads() -> None:
    decl = load_declaration()
    host_managed = {s.env: s.modes["host_managed"] for s in decl.secrets if "host_managed" in s.modes}
    assert host_managed == {
        injected.ACCESS_TOKEN_ENV: "required",
        injected.SCOPE_ENV: "optional",
        injected.EXPIRES_IN_ENV: "optional",
        injected.EXPIRES_AT_ENV: "optional",
        injected.CLIENT_ID_ENV: "optional",
    }
    sensitive = {s.env for s in decl.secrets if s.sensitive}
    assert injected.ACCESS_TOKEN_ENV in sensitive


def test_the_api_base_url_variable_is_the_declared_one() -> None:
    assert load_declaration().auth.base_urls["api"].env == settings.BASE_URL_ENV
