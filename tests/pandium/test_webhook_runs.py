"""Webhook and API runs as Pandium starts them: triggers in the environment, one JSON document out.

Payment instructions signed by the partner system (Standard Webhooks) are checked, validated against the
action's input schema and run once per idempotency key; refusals are results, one per item.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fortnox_connector.runtime.pandium import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import Result, next_run_env, pandium_env, run_pandium
from tests.pandium.partner import (
    CRON,
    SECRET,
    payment,
    signed_trigger,
    unsigned_trigger,
    webhook_env,
)

Token = Callable[..., str]


@pytest.fixture
def env(sandbox: Sandbox, sandbox_tenant: int, sandbox_token: Token) -> dict[str, str]:
    return pandium_env(sandbox, sandbox_token(sandbox_tenant), PAN_CTX_TENANT_ID=str(sandbox_tenant))


def invoices(sandbox: Sandbox, tenant: int, *numbers: int) -> None:
    for number in numbers:
        sandbox.add_invoice(tenant, DocumentNumber=number, Total="1000.00", InvoiceDate="2026-02-20")


def payments_of(sandbox: Sandbox, tenant: int, *numbers: int) -> list[dict[str, Any]]:
    return [p for p in sandbox.payments(tenant) if int(p["InvoiceNumber"]) in numbers]


def statuses(result: Result) -> list[str]:
    return [r["status"] for r in result.document["actions"]["results"]]


def run_process(env: Mapping[str, str]) -> Result:
    """A real process, started as Pandium starts it: only the environment, stdout, stderr and an exit code."""
    done = subprocess.run(
        [sys.executable, "-m", "fortnox_connector.runtime.pandium"],
        env={**env, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def test_two_signed_payments_and_a_malformed_one_give_two_payments_and_one_refusal_and_a_repeat_pays_nothing(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001, 9002)
    run_env = webhook_env(
        env,
        signed_trigger(tmp_path, "t1", payment(9001, "400.00", key="order-1")),
        signed_trigger(tmp_path, "t2", payment(9002, "250.50", key="order-2")),
        signed_trigger(tmp_path, "t3", payment(9001, "abc", key="order-3")),
    )
    first = run_process(run_env)

    assert first.code == EXIT_OK, first.stderr
    assert statuses(first) == ["done", "done", "refused"]
    assert len(payments_of(sandbox, sandbox_tenant, 9001, 9002)) == 2
    refusal = first.document["actions"]["results"][2]
    assert refusal["trigger"] == "t3" and refusal["action"] == "register_payment"
    assert "amount" in refusal["error"]["message"]
    assert refusal["error"]["hint"]
    done = first.document["actions"]["results"][0]
    assert done["signature"] == "verified" and done["idempotency_key"] == "order-1"
    assert done["output"]["invoice_number"] == "9001" and done["output"]["amount"] == "400.00"
    assert first.document["actions"]["summary"] == {
        "items": 3,
        "done": 2,
        "replayed": 0,
        "refused": 1,
        "failed": 0,
    }
    assert first.document["payment_received"]["summary"]["skipped"]  # a webhook run alone does not poll
    assert env["PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN"] not in first.stdout + first.stderr

    again = run_process(next_run_env(run_env, first.stdout))
    assert again.code == EXIT_OK, again.stderr
    assert statuses(again) == ["replayed", "replayed", "refused"]
    assert len(payments_of(sandbox, sandbox_tenant, 9001, 9002)) == 2
    replay = again.document["actions"]["results"][0]["output"]
    assert replay["payment_number"] == done["output"]["payment_number"]


def test_a_bundle_of_a_cron_and_a_webhook_trigger_runs_the_action_and_polls(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001)
    signed = signed_trigger(tmp_path, "t1", payment(9001, "1000.00", key="k1"), at=sandbox.now())
    result = run_pandium(webhook_env(env, CRON, signed), now=sandbox.now)  # the run's clock is the sandbox's

    assert result.code == EXIT_OK, result.stderr
    assert statuses(result) == ["done"]
    doc = result.document
    for trigger in ("payment_received", "invoice_paid"):
        assert doc[trigger]["summary"]["skipped"] is None
        assert doc[trigger]["summary"]["complete"] is True
        assert doc[trigger]["cursor"]
    paid = [e["payload"] for e in doc["invoice_paid"]["events"]]
    assert any(str(p.get("invoice_number", p.get("document_number"))) == "9001" for p in paid), paid


def test_a_batch_runs_each_item_once_and_one_bad_item_does_not_block_the_others(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001, 9002)
    batch = {
        "items": [
            payment(9001, "100.00"),
            {"action": "no_such_action", "input": {}},
            payment(9002, "200.00"),
            payment(9999, "10.00"),  # no such invoice
        ]
    }
    result = run_pandium(webhook_env(env, signed_trigger(tmp_path, "t1", batch, message_id="msg_42")))
    assert result.code == EXIT_OK, result.stderr
    assert statuses(result) == ["done", "refused", "done", "refused"]
    results = result.document["actions"]["results"]
    assert [r["idempotency_key"] for r in (results[0], results[2])] == [
        "webhook:msg_42:0",
        "webhook:msg_42:2",
    ]
    assert "no_such_action" in results[1]["error"]["message"]
    assert "register_payment" in results[1]["error"]["hint"] + results[1]["error"]["message"]
    assert "9999" in results[3]["error"]["message"]

    # The partner retries the same message (same webhook-id); Pandium hands it over as a new trigger.
    retry = run_pandium(
        next_run_env(
            webhook_env(env, signed_trigger(tmp_path, "t9", batch, message_id="msg_42")), result.stdout
        )
    )
    assert statuses(retry) == ["replayed", "refused", "replayed", "refused"]
    assert len(payments_of(sandbox, sandbox_tenant, 9001, 9002)) == 2


def test_a_key_reused_for_another_payment_is_refused(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001)
    first = run_pandium(webhook_env(env, signed_trigger(tmp_path, "t1", payment(9001, "100.00", key="k"))))
    other = webhook_env(env, signed_trigger(tmp_path, "t2", payment(9001, "300.00", key="k")))
    second = run_pandium(next_run_env(other, first.stdout))
    assert second.code == EXIT_OK
    assert statuses(second) == ["refused"]
    assert "already used" in second.document["actions"]["results"][0]["error"]["message"]
    assert len(payments_of(sandbox, sandbox_tenant, 9001)) == 1


@pytest.mark.parametrize(
    ("trigger", "extra", "reason"),
    [
        (lambda d: signed_trigger(d, "t1", payment(9001, "10.00"), tamper=True), {}, "does not match"),
        (
            lambda d: signed_trigger(d, "t1", payment(9001, "10.00"), secret="whsec_" + "QUJD" * 8),
            {},
            "does not match",
        ),
        (
            lambda d: signed_trigger(
                d, "t1", payment(9001, "10.00"), at=datetime.now(UTC) - timedelta(hours=1)
            ),
            {},
            "old",
        ),
        (lambda d: unsigned_trigger(d, "t1", payment(9001, "10.00")), {}, "not signed"),
        (
            lambda d: signed_trigger(d, "t1", payment(9001, "10.00")),
            {"PAN_SEC_INBOUND_WEBHOOK_SECRET": ""},
            "no secret",
        ),
    ],
    ids=["tampered", "other-secret", "too-old", "unsigned", "no-secret"],
)
def test_a_request_that_does_not_verify_is_refused_before_anything_reaches_fortnox(
    sandbox: Sandbox,
    sandbox_tenant: int,
    env: dict[str, str],
    tmp_path: Path,
    trigger: Callable[[Path], dict[str, Any]],
    extra: dict[str, str],
    reason: str,
) -> None:
    invoices(sandbox, sandbox_tenant, 9001)
    result = run_pandium(webhook_env(env, trigger(tmp_path), **extra))
    assert result.code == EXIT_OK, result.stderr
    [refusal] = result.document["actions"]["results"]
    assert refusal["status"] == "refused"
    assert reason in refusal["error"]["message"]
    assert refusal["error"]["hint"]
    assert payments_of(sandbox, sandbox_tenant, 9001) == []


def test_unsigned_requests_run_when_the_tenant_allows_them(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001)
    run_env = webhook_env(
        env, unsigned_trigger(tmp_path, "t1", payment(9001, "10.00")), PAN_CFG_ALLOW_UNSIGNED_REQUESTS="true"
    )
    result = run_pandium(run_env)
    [done] = result.document["actions"]["results"]
    assert (done["status"], done["signature"], done["idempotency_key"]) == (
        "done",
        "unsigned",
        "trigger:t1:0",
    )


def test_an_api_trigger_with_an_inline_payload_runs_in_a_normal_run_that_also_polls(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str]
) -> None:
    invoices(sandbox, sandbox_tenant, 9001)
    api = {"id": "a1", "source": "api", "mode": "normal", "payload": payment(9001, "10.00", key="api-1")}
    run_env = webhook_env(env, api, PAN_CTX_RUN_MODE="normal", PAN_CFG_ALLOW_UNSIGNED_REQUESTS="yes")
    result = run_pandium(run_env, now=sandbox.now)
    assert result.code == EXIT_OK, result.stderr
    assert statuses(result) == ["done"]
    assert result.document["payment_received"]["summary"]["skipped"] is None


def test_a_trigger_with_a_field_we_do_not_know_is_refused_alone(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001)
    odd = {**signed_trigger(tmp_path, "t1", payment(9001, "10.00")), "created_at": "2026-11-27"}
    good = signed_trigger(tmp_path, "t2", payment(9001, "20.00"))
    result = run_pandium(webhook_env(env, odd, good))
    assert result.code == EXIT_OK
    assert statuses(result) == ["refused", "done"]
    message = result.document["actions"]["results"][0]["error"]["message"]
    assert "created_at" in message and "headers" in message


def test_a_run_trigger_list_that_is_not_json_stops_the_run_before_any_work(env: dict[str, str]) -> None:
    result = run_pandium({**env, "PAN_CTX_RUN_MODE": "webhook", "PAN_CTX_RUN_TRIGGERS": "[{"})
    assert result.code == EXIT_CONFIG
    assert result.stdout == ""
    assert "PAN_CTX_RUN_TRIGGERS" in result.stderr


def test_a_payment_fortnox_cannot_take_now_fails_the_run_but_keeps_what_ran(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    sandbox.inject_fault("malformed", fraction=1.0)
    result = run_pandium(webhook_env(env, signed_trigger(tmp_path, "t1", payment(9001, "10.00", key="k"))))
    assert result.code == EXIT_FAILED
    [failed] = result.document["actions"]["results"]
    assert failed["status"] == "failed"
    assert json.loads(result.stdout)["run"]["status"] == "failed"


def test_a_run_that_registered_something_exits_0_despite_a_failed_item_so_its_records_are_kept(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001, 9002)
    sandbox.inject_fault("malformed", fraction=1.0, path_prefix="/3/invoices/9002")
    batch = {"items": [payment(9001, "100.00", key="a"), payment(9002, "100.00", key="b")]}
    run_env = webhook_env(env, signed_trigger(tmp_path, "t1", batch))
    result = run_pandium(run_env)

    assert result.code == EXIT_OK, result.stderr
    assert statuses(result) == ["done", "failed"]
    assert result.document["run"]["status"] == "partial"
    assert "send it again" in result.stderr or "failed" in result.stderr
    sandbox.clear_faults()
    again = run_pandium(next_run_env(run_env, result.stdout))
    assert statuses(again) == ["replayed", "done"]
    assert len(payments_of(sandbox, sandbox_tenant, 9001)) == 1


def test_webhook_run_output_satisfies_the_metadata_schema_and_holds_no_secret(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "PANDIUM.yaml").read_text("utf-8"))
    invoices(sandbox, sandbox_tenant, 9001)
    run_env = webhook_env(
        env,
        CRON,
        signed_trigger(tmp_path, "t1", payment(9001, "5.00"), at=sandbox.now()),
        FORTNOX_LOG_LEVEL="DEBUG",
    )
    result = run_pandium(run_env, now=sandbox.now)
    assert result.code == EXIT_OK, result.stderr
    jsonschema.validate(result.document, manifest["metadata_schema"]["schema"])
    for secret in (SECRET, SECRET.removeprefix("whsec_"), env["PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN"]):
        assert secret not in result.stdout + result.stderr


def test_export_actions_run_from_a_webhook_batch_once_each(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    export = {
        "source_invoice_number": "SF-1001",
        "customer": {"customer_number": "1"},
        "invoice_date": "2026-03-01",
        "rows": [
            {"description": "Licence", "quantity": "2", "price": "100.00", "vat": "25", "account": 3001}
        ],
        "total": "250.00",
    }
    batch = [
        {"action": "upsert_customer", "input": {"source_id": "C-77", "name": "Partner Kund AB"}},
        {"action": "export_invoice", "input": export},
    ]
    run_env = webhook_env(env, signed_trigger(tmp_path, "t1", batch, message_id="msg_exp"))
    first = run_pandium(run_env)
    assert first.code == EXIT_OK, first.stderr
    assert statuses(first) == ["done", "done"], first.document["actions"]
    results = first.document["actions"]["results"]
    keys = [r["idempotency_key"] for r in results]
    assert keys == ["webhook:msg_exp:0", "webhook:msg_exp:1"]  # upsert_customer's is kept by the run
    assert results[1]["output"]["total"] == "250.00"

    again = run_pandium(next_run_env(run_env, first.stdout))
    assert statuses(again) == ["replayed", "replayed"]
    assert (
        again.document["actions"]["results"][1]["output"]["document_number"]
        == (results[1]["output"]["document_number"])
    )
    exported = [i for i in sandbox.invoices(sandbox_tenant) if i["ExternalInvoiceReference1"] == "SF-1001"]
    assert len(exported) == 1
    named = [c for c in sandbox.customers(sandbox_tenant) if c.get("Name") == "Partner Kund AB"]
    assert len(named) == 1


def test_the_records_also_come_back_through_the_tenant_metadata_file(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str], tmp_path: Path
) -> None:
    invoices(sandbox, sandbox_tenant, 9001)
    run_env = webhook_env(env, signed_trigger(tmp_path, "t1", payment(9001, "100.00", key="m-1")))
    first = run_pandium(run_env)
    metadata = tmp_path / "metadata.json"
    metadata.write_text(first.stdout, encoding="utf-8")  # Pandium merged the run's stdout into it
    again = run_pandium({**run_env, "PAN_CTX_TENANT_METADATA_FILE": str(metadata)})
    assert statuses(again) == ["replayed"]
    assert len(payments_of(sandbox, sandbox_tenant, 9001)) == 1
