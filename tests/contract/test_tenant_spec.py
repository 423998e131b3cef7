"""What a host gives, per auth mode: a ``TenantSpec`` opens the Fortnox connector with no other import.

The secrets go by the names of the connector's secrets manifest; the connector picks the auth mode from
them when the host names none, tells ``on_token_refreshed`` of each new token (expiry and scope, never the
token), and a missing secret is a contract error naming the tenant, the secret and the fix.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fortnox_connector.contract import ConfigError, ConnectorManager, MemoryStateStore, Secret, TenantSpec
from fortnox_connector.sandbox import Sandbox


def _spec(sandbox: Sandbox, **fields: object) -> TenantSpec:
    return TenantSpec(
        id="acme",
        endpoints={"api": sandbox.base_url, "auth": sandbox.base_url},
        clock=sandbox.now,
        **fields,  # type: ignore[arg-type]
    )


def test_host_managed_tokens_open_a_session_that_polls(sandbox: Sandbox, sandbox_tenant: int) -> None:
    answer = sandbox.issue_token(sandbox_tenant)
    secrets = {
        "access_token": Secret(str(answer["access_token"])),
        "expires_at": sandbox.now() + timedelta(hours=1),  # a datetime is taken as it is
        "scope": str(answer["scope"]),
    }
    connector = ConnectorManager.load().connector("fortnox")
    with connector.open(_spec(sandbox, secrets=secrets)) as session:
        page = session.trigger("payment_received").poll(None)
    assert page.events and all(e.dedup_key.startswith("fortnox:acme:payment:") for e in page.events)


def test_a_seeded_refresh_token_is_adopted_and_observers_hear_expiry_and_scope_only(
    sandbox: Sandbox, sandbox_tenant: int
) -> None:
    refresh = str(sandbox.issue_token(sandbox_tenant)["refresh_token"])
    heard: list[tuple[str, datetime, frozenset[str]]] = []
    store = MemoryStateStore()
    secrets = {
        "client_id": sandbox.client_id,
        "client_secret": Secret(sandbox.client_secret),
        "refresh_token": Secret(refresh),
    }
    spec = _spec(sandbox, secrets=secrets, state=store, on_token_refreshed=lambda *a: heard.append(a))
    connector = ConnectorManager.load().connector("fortnox")
    with connector.open(spec) as session:
        assert session.action("get_invoice").run({"invoice": {"document_number": "1"}})["document_number"]
    stored = store.load_token("acme")
    assert stored is not None and stored.refresh_token != Secret(refresh)  # rotated, and kept by the host
    [(tenant, expires_at, scope)] = heard
    assert tenant == "acme" and expires_at.tzinfo is not None and "invoice" in scope
    assert refresh not in repr(heard)


def test_a_missing_secret_names_the_tenant_the_secret_and_the_fix(sandbox: Sandbox) -> None:
    connector = ConnectorManager.load().connector("fortnox")
    spec = _spec(sandbox, secrets={"client_id": sandbox.client_id}, auth_mode="client_credentials")
    with pytest.raises(ConfigError) as err, connector.open(spec):
        pass
    assert str(err.value).startswith("tenant acme: the client_credentials auth mode needs the secret")
    assert err.value.field == "client_secret" and err.value.hint
