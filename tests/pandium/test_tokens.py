"""An expired or rejected host token: non-zero exit, a clear message, the token nowhere in the output."""

from __future__ import annotations

from collections.abc import Callable

from fortnox_connector.context import TenantContext
from fortnox_connector.runtime.pandium import EXIT_FAILED
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import TENANT_ID, FakeSource, pandium_env, run_pandium, specs

Token = Callable[..., str]


def touch_fortnox(ctx: TenantContext, _start: int) -> None:
    ctx.client.company_information()


def test_an_expired_token_exits_nonzero_with_a_clear_message_and_no_secret(
    sandbox: Sandbox, sandbox_token: Token
) -> None:
    token = sandbox_token()
    env = pandium_env(sandbox, token, PAN_SEC_FORTNOX_OAUTH_EXPIRES_AT="2026-01-01T00:00:00Z")
    payments = FakeSource("payment_received", [1], before_poll=touch_fortnox)
    invoices = FakeSource("invoice_paid", [2], before_poll=touch_fortnox)
    result = run_pandium(env, triggers=specs(payments, invoices))

    assert result.code == EXIT_FAILED
    assert result.stdout == ""  # nothing was committed
    assert f"tenant {TENANT_ID}" in result.stderr
    assert "expired" in result.stderr
    assert "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN" in result.stderr  # the fix names what the host must inject
    assert invoices.polls == 0  # no point polling the second trigger with a dead token
    assert sandbox.stats.requests == 0  # refused before anything was sent
    for part in token.split("."):
        assert part not in result.stderr
        assert part not in result.stdout


def test_a_token_fortnox_rejects_exits_nonzero_without_echoing_it(sandbox: Sandbox) -> None:
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOjF9.Zm9yZ2VkLXNpZ25hdHVyZQ"
    env = pandium_env(sandbox, forged)
    result = run_pandium(env, triggers=specs(FakeSource("payment_received", [1], before_poll=touch_fortnox)))

    assert result.code == EXIT_FAILED
    assert "rejected" in result.stderr
    assert f"tenant {TENANT_ID}" in result.stderr
    assert "Zm9yZ2VkLXNpZ25hdHVyZQ" not in result.stderr
    assert forged not in result.stdout
