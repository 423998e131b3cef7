"""Init mode against the sandbox: the options a tenant picks from, and the cursors carried forward."""

from __future__ import annotations

import json
from collections.abc import Callable

from fortnox_connector.runtime.pandium import EXIT_FAILED, EXIT_OK
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.sandbox.store import MODES_OF_PAYMENT
from tests.pandium.helpers import FakeSource, next_run_env, pandium_env, run_pandium, specs

Token = Callable[..., str]


def test_init_prints_the_company_and_its_modes_of_payment(sandbox: Sandbox, sandbox_token: Token) -> None:
    tenant_id = sandbox.tenant_ids()[0]
    env = pandium_env(sandbox, sandbox_token(tenant_id), PAN_CTX_RUN_MODE="init")
    payments = FakeSource("payment_received", [1, 2])
    result = run_pandium(env, triggers=specs(payments))

    assert result.code == EXIT_OK
    assert payments.polls == 0  # init never polls
    doc = result.document
    options = doc["options"]
    assert options["company"]["fortnox_tenant_id"] == tenant_id
    assert options["company"]["name"]
    expected = sorted((code, account) for code, _name, account in MODES_OF_PAYMENT)
    assert [(m["code"], m["account_number"]) for m in options["modes_of_payment"]] == expected
    # The dynamic-config choices, named like the definitions in PANDIUM.yaml.
    assert [m["const"] for m in doc["modes_of_payment"]] == [code for code, _ in expected]
    assert doc["modes_of_payment"][0]["title"].startswith("AG")
    accounts = sorted({account for _, account in expected})
    assert [a["const"] for a in doc["mode_of_payment_accounts"]] == accounts
    assert doc["payment_received"]["events"] == []
    assert doc["payment_received"]["cursor"] is None
    assert doc["run"]["mode"] == "init"
    assert doc["run"]["status"] == "init"


def test_init_keeps_the_committed_cursors_so_the_next_normal_run_repeats_nothing(
    sandbox: Sandbox, sandbox_token: Token
) -> None:
    env = pandium_env(sandbox, sandbox_token())
    payments = FakeSource("payment_received", [1, 2, 3])
    normal = run_pandium(env, triggers=specs(payments))
    assert normal.document["payment_received"]["cursor"] == "3"

    init = run_pandium(next_run_env(env, normal.stdout, PAN_CTX_RUN_MODE="init"), triggers=specs(payments))
    assert init.code == EXIT_OK
    assert init.document["payment_received"]["cursor"] == "3"
    assert init.document["payment_received"]["events"] == []  # printed once, by the run that delivered them

    payments.items.append(4)
    after = run_pandium(next_run_env(env, init.stdout), triggers=specs(payments))
    assert after.dedup_keys("payment_received") == ["payment_received:4"]
    for key in ("options", "modes_of_payment", "mode_of_payment_accounts"):
        assert after.document[key] == init.document[key]  # the form's choices survive normal runs


def test_init_without_the_settings_scope_fails_with_the_scope_to_grant(
    sandbox: Sandbox, sandbox_token: Token
) -> None:
    token = sandbox_token(scopes=("invoice", "payment", "companyinformation"))
    env = pandium_env(sandbox, token, PAN_CTX_RUN_MODE="init")
    previous = json.dumps({"payment_received": {"cursor": "7", "events": []}})
    result = run_pandium(next_run_env(env, previous, PAN_CTX_RUN_MODE="init"), triggers=specs())

    assert result.code == EXIT_FAILED
    assert result.stdout == ""  # a failed init changes nothing
    assert "settings" in result.stderr
    assert token not in result.stderr
