"""Normal mode with the real triggers (through the ConnectorManager) on the sandbox, run after run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from fortnox_connector.declaration.schemas import load_schema
from fortnox_connector.runtime.pandium import EXIT_OK
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import Result, next_run_env, pandium_env, run_pandium

Token = Callable[..., str]
TRIGGERS = ("payment_received", "invoice_paid")


@pytest.fixture
def env(sandbox: Sandbox, sandbox_tenant: int, sandbox_token: Token) -> dict[str, str]:
    return pandium_env(sandbox, sandbox_token(sandbox_tenant), PAN_CTX_TENANT_ID=str(sandbox_tenant))


def fresh_token(sandbox: Sandbox, tenant: int) -> dict[str, str]:
    """Pandium refreshes before each run: the next run gets a current token."""
    return {"PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN": str(sandbox.issue_token(tenant)["access_token"])}


def all_keys(*results: Result) -> dict[str, list[str]]:
    return {t: [k for r in results for k in r.dedup_keys(t)] for t in TRIGGERS}


def check_events(result: Result) -> None:
    for trigger in TRIGGERS:
        validator = Draft202012Validator(
            load_schema(f"events/{trigger}.json"), format_checker=FormatChecker()
        )
        for event in result.document[trigger]["events"]:
            validator.validate(event["payload"])


def pay_in_full(sandbox: Sandbox, tenant: int, total: str) -> tuple[str, str]:
    invoice = str(sandbox.add_invoice(tenant, InvoiceDate="2026-03-01", Total=total)["DocumentNumber"])
    payment = sandbox.add_payment(tenant, invoice, AmountCurrency=total, Booked=True)
    return invoice, str(payment["Number"])


def test_runs_deliver_each_event_once_and_resume_from_the_printed_state(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str]
) -> None:
    first = run_pandium(env, now=sandbox.now)
    assert first.code == EXIT_OK, first.stderr
    assert first.document["run"]["status"] == "complete"
    assert first.dedup_keys("payment_received")  # the seeded, booked payments of the backfill window
    assert all(first.document[t]["cursor"] for t in TRIGGERS)
    assert all(f"tenant={sandbox_tenant} " in line for line in first.stderr.splitlines())
    check_events(first)

    sandbox.advance(24 * 3600)
    invoice, payment = pay_in_full(sandbox, sandbox_tenant, "1250.00")
    second = run_pandium(
        next_run_env(env, first.stdout, **fresh_token(sandbox, sandbox_tenant)), now=sandbox.now
    )
    assert second.code == EXIT_OK, second.stderr
    check_events(second)
    payments: list[dict[str, Any]] = [e["payload"] for e in second.document["payment_received"]["events"]]
    assert [p["payment_number"] for p in payments] == [payment]
    assert payments[0]["amount_company_currency"] == "1250.00"  # money as an exact decimal string
    paid = [e["payload"] for e in second.document["invoice_paid"]["events"]]
    assert [p["document_number"] for p in paid] == [invoice]

    sandbox.advance(3600)
    third = run_pandium(
        next_run_env(env, second.stdout, **fresh_token(sandbox, sandbox_tenant)), now=sandbox.now
    )
    assert all(third.dedup_keys(t) == [] for t in TRIGGERS)

    keys = all_keys(first, second, third)
    for trigger in TRIGGERS:
        assert len(keys[trigger]) == len(set(keys[trigger])), trigger


@pytest.mark.sandbox(payments_per_tenant=0)
def test_a_deadline_split_backfill_delivers_what_one_long_run_would(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str]
) -> None:
    sandbox.seed_payments(sandbox_tenant, 1200)  # three pages of payments, not booked
    env["PAN_CFG_EMIT_UNBOOKED_PAYMENTS"] = "true"

    def clock() -> float:
        return 100.0 * sandbox.stats.requests  # every request to Fortnox "takes" 100 s

    env["FORTNOX_PANDIUM_DEADLINE_SECONDS"] = "150"
    runs = [run_pandium(env, now=sandbox.now, clock=clock)]
    while runs[-1].document["run"]["status"] == "partial":
        assert runs[-1].code == EXIT_OK
        assert len(runs) < 10, "the backfill never finished"
        runs.append(run_pandium(next_run_env(env, runs[-1].stdout), now=sandbox.now, clock=clock))
    assert len(runs) > 1
    assert runs[0].document["payment_received"]["summary"]["stopped_by_deadline"] is True

    sandbox.reset()
    sandbox.seed_payments(sandbox_tenant, 1200)
    env.pop("FORTNOX_PANDIUM_DEADLINE_SECONDS")
    one = run_pandium({**env, **fresh_token(sandbox, sandbox_tenant)}, now=sandbox.now)
    assert one.document["run"]["status"] == "complete"

    split = all_keys(*runs)
    whole = all_keys(one)
    for trigger in TRIGGERS:
        assert sorted(split[trigger]) == sorted(whole[trigger]), trigger
        assert len(split[trigger]) == len(set(split[trigger])), trigger
    assert len(whole["payment_received"]) > 500


def test_debug_json_logs_name_the_tenant_on_every_record_and_never_the_token(
    sandbox: Sandbox, sandbox_tenant: int, env: dict[str, str]
) -> None:
    env.update(FORTNOX_LOG_FORMAT="json", FORTNOX_LOG_LEVEL="DEBUG")
    result = run_pandium(env, now=sandbox.now)
    assert result.code == EXIT_OK
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(r.get("http_path") == "/3/invoicepayments" for r in records)  # the client's answer lines
    assert {r["tenant"] for r in records} == {str(sandbox_tenant)}
    token = env["PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN"]
    assert token not in result.stderr
    assert token not in result.stdout
