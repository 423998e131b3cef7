"""Normal mode with injected triggers: one JSON document, state round trips, the deadline, errors, secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fortnox_connector.context import TenantContext
from fortnox_connector.fortnox.errors import FortnoxUnavailable
from fortnox_connector.runtime.pandium import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import TENANT_ID, FakeSource, next_run_env, pandium_env, run_pandium, specs

Token = Callable[..., str]


@pytest.fixture
def env(sandbox: Sandbox, sandbox_token: Token) -> dict[str, str]:
    return pandium_env(sandbox, sandbox_token())


def touch_fortnox(ctx: TenantContext, _start: int) -> None:
    """A poll that calls Fortnox with the injected token, as the real triggers do."""
    ctx.client.company_information()


def test_a_first_run_prints_one_document_with_a_key_per_trigger(env: dict[str, str]) -> None:
    payments = FakeSource("payment_received", list(range(5)), before_poll=touch_fortnox)
    invoices = FakeSource("invoice_paid", [10, 11, 12])
    result = run_pandium(env, triggers=specs(payments, invoices))

    assert result.code == EXIT_OK
    doc = result.document
    assert set(doc) == {"payment_received", "invoice_paid", "run"}
    assert result.dedup_keys("payment_received") == [f"payment_received:{i}" for i in range(5)]
    assert doc["payment_received"]["cursor"] == "5"
    assert doc["invoice_paid"]["cursor"] == "3"
    assert doc["payment_received"]["events"][0] == {
        "dedup_key": "payment_received:0",
        "trigger": "payment_received",
        "tenant": TENANT_ID,
        "payload": {"n": 0, "amount": "100.50"},
    }
    summary = doc["payment_received"]["summary"]
    assert (summary["events"], summary["pages"], summary["complete"], summary["error"]) == (5, 3, True, None)
    assert doc["run"]["status"] == "complete"
    assert doc["run"]["mode"] == "normal"
    assert doc["run"]["tenant"] == TENANT_ID


def test_logs_go_to_stderr_with_the_tenant_on_every_line_and_no_token(env: dict[str, str]) -> None:
    token = env["PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN"]
    result = run_pandium(env, triggers=specs(FakeSource("payment_received", [1], before_poll=touch_fortnox)))
    assert result.code == EXIT_OK
    lines = result.stderr.splitlines()
    assert lines
    assert all(f"tenant={TENANT_ID} " in line for line in lines)
    assert token not in result.stderr
    assert token not in result.stdout


def test_json_logs_parse(env: dict[str, str]) -> None:
    env["FORTNOX_LOG_FORMAT"] = "json"
    result = run_pandium(env, triggers=specs(FakeSource("payment_received", [1])))
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records
    assert {r["tenant"] for r in records} == {TENANT_ID}


def test_state_round_trip_through_the_last_successful_stdout(env: dict[str, str]) -> None:
    payments = FakeSource("payment_received", [1, 2, 3])
    invoices = FakeSource("invoice_paid", [7])
    first = run_pandium(env, triggers=specs(payments, invoices))
    assert first.code == EXIT_OK

    payments.items += [4, 5]
    second = run_pandium(next_run_env(env, first.stdout), triggers=specs(payments, invoices))
    assert second.code == EXIT_OK
    assert second.dedup_keys("payment_received") == ["payment_received:4", "payment_received:5"]
    assert second.dedup_keys("invoice_paid") == []
    assert second.document["invoice_paid"]["cursor"] == "1"

    third = run_pandium(next_run_env(env, second.stdout), triggers=specs(payments, invoices))
    assert third.dedup_keys("payment_received") == []


def merge_into(path: Path, stdout: str) -> None:
    """What Pandium does after a successful run: shallow-merge its stdout into the tenant metadata."""
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(json.loads(stdout))
    path.write_text(json.dumps(current))


def test_state_round_trip_through_the_tenant_metadata_file(env: dict[str, str], tmp_path: Path) -> None:
    metadata = tmp_path / "metadata.json"
    metadata.write_text("{}")
    env["PAN_CTX_TENANT_METADATA_FILE"] = str(metadata)
    payments = FakeSource("payment_received", [1, 2, 3])
    first = run_pandium(env, triggers=specs(payments))
    merge_into(metadata, first.stdout)

    payments.items.append(4)
    # A stale last-successful stdout must not win over the metadata (it would repeat 1..3).
    stale = json.dumps({"payment_received": {"cursor": "0", "events": []}})
    second = run_pandium({**env, "PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT": stale}, triggers=specs(payments))
    assert second.dedup_keys("payment_received") == ["payment_received:4"]


def test_metadata_without_our_keys_falls_back_to_the_last_stdout(env: dict[str, str], tmp_path: Path) -> None:
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"someone_else": 1}))
    payments = FakeSource("payment_received", [1, 2])
    first = run_pandium(env, triggers=specs(payments))
    payments.items.append(3)
    second = run_pandium(
        next_run_env(env, first.stdout, PAN_CTX_TENANT_METADATA_FILE=str(metadata)), triggers=specs(payments)
    )
    assert second.dedup_keys("payment_received") == ["payment_received:3"]


def test_keys_written_by_others_are_carried_forward(env: dict[str, str]) -> None:
    previous = json.dumps({"options": {"modes_of_payment": []}, "payment_received": {"cursor": "1"}})
    result = run_pandium(next_run_env(env, previous), triggers=specs(FakeSource("payment_received", [1, 2])))
    assert result.document["options"] == {"modes_of_payment": []}
    assert result.dedup_keys("payment_received") == ["payment_received:2"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_deadline_stops_early_with_partial_state_and_the_next_run_continues(env: dict[str, str]) -> None:
    clock = FakeClock()

    def slow(_ctx: TenantContext, _start: int) -> None:
        clock.now += 100  # every poll takes 100 s

    env["FORTNOX_PANDIUM_DEADLINE_SECONDS"] = "250"
    payments = FakeSource("payment_received", list(range(20)), page=2, before_poll=slow)
    invoices = FakeSource("invoice_paid", list(range(20)), page=2, before_poll=slow)
    first = run_pandium(env, triggers=specs(payments, invoices), clock=clock)

    assert first.code == EXIT_OK  # a clean early stop is a successful run: Pandium feeds its stdout back
    doc = first.document
    assert doc["run"]["status"] == "partial"
    # half the time each: payment_received polls at t=0 and t=100, invoice_paid (the rest) at t=200
    assert first.dedup_keys("payment_received") == [f"payment_received:{i}" for i in range(4)]
    assert doc["payment_received"]["cursor"] == "4"
    assert doc["payment_received"]["summary"]["stopped_by_deadline"] is True
    assert first.dedup_keys("invoice_paid") == ["invoice_paid:0", "invoice_paid:1"]
    assert "deadline" in first.stderr

    payments.before_poll = invoices.before_poll = None  # the next run is quick
    second = run_pandium(next_run_env(env, first.stdout), triggers=specs(payments, invoices), clock=clock)
    assert second.document["run"]["status"] == "complete"
    assert second.dedup_keys("payment_received") == [f"payment_received:{i}" for i in range(4, 20)]
    assert second.dedup_keys("invoice_paid") == [f"invoice_paid:{i}" for i in range(2, 20)]


def test_the_event_budget_bounds_the_output_and_the_next_runs_deliver_the_rest(env: dict[str, str]) -> None:
    env["FORTNOX_PANDIUM_MAX_EVENTS"] = "5"
    payments = FakeSource("payment_received", list(range(10)), page=2)
    invoices = FakeSource("invoice_paid", list(range(3)), page=2)
    runs = [run_pandium(env, triggers=specs(payments, invoices))]
    while runs[-1].document["run"]["status"] == "partial":
        assert runs[-1].code == EXIT_OK
        assert len(runs) < 6
        runs.append(run_pandium(next_run_env(env, runs[-1].stdout), triggers=specs(payments, invoices)))

    first = runs[0].document
    assert runs[0].dedup_keys("payment_received") == [f"payment_received:{i}" for i in range(6)]  # soft cap
    assert first["payment_received"]["summary"]["stopped_by_event_budget"] is True
    assert first["payment_received"]["summary"]["stopped_by_deadline"] is False
    assert runs[0].dedup_keys("invoice_paid") == []  # the budget was spent before it started
    for trigger, source in (("payment_received", payments), ("invoice_paid", invoices)):
        keys = [k for r in runs for k in r.dedup_keys(trigger)]
        assert keys == [f"{trigger}:{i}" for i in source.items]  # each once, in order, none lost


def test_a_failure_after_some_pages_exits_nonzero_and_still_prints_the_committed_state(
    env: dict[str, str],
) -> None:
    def fail_on_second_page(ctx: TenantContext, start: int) -> None:
        if start >= 2:
            raise FortnoxUnavailable(
                "Fortnox answered 503 to GET /3/invoicepayments", tenant=ctx.tenant, hint="retry later."
            )

    payments = FakeSource("payment_received", [1, 2, 3, 4], before_poll=fail_on_second_page)
    invoices = FakeSource("invoice_paid", [9])
    result = run_pandium(env, triggers=specs(payments, invoices))

    assert result.code == EXIT_FAILED
    doc = result.document
    assert doc["run"]["status"] == "failed"
    assert result.dedup_keys("payment_received") == ["payment_received:1", "payment_received:2"]
    assert doc["payment_received"]["cursor"] == "2"  # exactly after the printed events
    assert doc["payment_received"]["summary"]["error"]["type"] == "FortnoxUnavailable"
    assert result.dedup_keys("invoice_paid") == ["invoice_paid:9"]  # the other trigger still ran
    assert f"tenant {TENANT_ID}" in result.stderr
    assert "retry later" in result.stderr


def test_a_failure_before_anything_was_committed_prints_nothing(env: dict[str, str]) -> None:
    def fail(ctx: TenantContext, _start: int) -> None:
        raise FortnoxUnavailable("Fortnox is down", tenant=ctx.tenant, hint="retry later.")

    result = run_pandium(env, triggers=specs(FakeSource("payment_received", [1], before_poll=fail)))
    assert result.code == EXIT_FAILED
    assert result.stdout == ""
    assert "nothing was committed" in result.stderr


def test_an_unexpected_exception_is_reported_and_the_state_so_far_printed(env: dict[str, str]) -> None:
    def bug(_ctx: TenantContext, start: int) -> None:
        if start >= 1:
            raise KeyError("oops")

    result = run_pandium(
        env, triggers=specs(FakeSource("payment_received", [1, 2, 3], page=1, before_poll=bug))
    )
    assert result.code == EXIT_FAILED
    assert result.dedup_keys("payment_received") == ["payment_received:1"]
    assert "KeyError" in result.stderr
    assert "unexpected error" in result.stderr


def test_a_stray_print_cannot_corrupt_stdout(env: dict[str, str]) -> None:
    def chatty(_ctx: TenantContext, _start: int) -> None:
        print("debug output from somewhere")

    result = run_pandium(env, triggers=specs(FakeSource("payment_received", [1], before_poll=chatty)))
    assert result.code == EXIT_OK
    assert result.document["payment_received"]["cursor"] == "1"
    assert "debug output from somewhere" in result.stderr


def test_config_strings_are_coerced_for_the_triggers(env: dict[str, str]) -> None:
    env["PAN_CFG_BACKFILL_DAYS"] = "7"
    payments = FakeSource("payment_received", [1])
    assert run_pandium(env, triggers=specs(payments)).code == EXIT_OK
    config: Any = payments.configs[0]
    assert config.backfill_days == 7


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PAN_CFG_BACKFILL_DAYS": "a week"}, "backfill_days"),
        ({"PAN_CTX_RUN_MODE": "stream"}, "PAN_CTX_RUN_MODE"),
        ({"PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN": ""}, "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN"),
        ({"PAN_SEC_FORTNOX_OAUTH_EXPIRES_AT": "soon"}, "PAN_SEC_FORTNOX_OAUTH_EXPIRES_AT"),
        ({"FORTNOX_API_URL": "http://evil.example"}, "FORTNOX_API_URL"),
        ({"FORTNOX_API_URL": "http://localhost.evil.example"}, "FORTNOX_API_URL"),
        ({"FORTNOX_API_URL": "ftp://127.0.0.1"}, "FORTNOX_API_URL"),
        ({"FORTNOX_PANDIUM_DEADLINE_SECONDS": "900"}, "FORTNOX_PANDIUM_DEADLINE_SECONDS"),
        ({"FORTNOX_PANDIUM_MAX_EVENTS": "0"}, "FORTNOX_PANDIUM_MAX_EVENTS"),
        ({"PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT": "[1, 2]"}, "PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT"),
        ({"PAN_CTX_LAST_SUCCESSFUL_RUN_STD_OUT": '{"payment_received": {"cursor": 5}}'}, "payment_received"),
    ],
)
def test_a_configuration_problem_exits_2_naming_it_and_prints_nothing(
    env: dict[str, str], change: dict[str, str], named: str
) -> None:
    payments = FakeSource("payment_received", [1])
    result = run_pandium({**env, **change}, triggers=specs(payments))
    assert result.code == EXIT_CONFIG
    assert result.stdout == ""
    assert named in result.stderr
    assert "Fix:" in result.stderr
    assert payments.polls == 0
