"""Where a Pandium run's events go: the tenant's webhook sink (signed, outbox rule) or, bounded, stdout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from fortnox_connector.runtime.pandium import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import FakeSource, next_run_env, pandium_env, run_pandium, specs
from tests.pandium.partner import SINK_SECRET, Receiver

Token = Callable[..., str]
TRIGGERS = ("payment_received", "invoice_paid")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    with r.running():
        yield r
    r.close()


def sink_env(sandbox: Sandbox, tenant: int, token: str, url: str, **extra: str) -> dict[str, str]:
    return pandium_env(
        sandbox,
        token,
        PAN_CTX_TENANT_ID=str(tenant),
        PAN_CFG_EVENT_DELIVERY="webhook",
        PAN_CFG_SINK_URL=url,
        PAN_SEC_EVENT_SINK_SECRET=SINK_SECRET,
        **extra,
    )


def test_a_normal_run_delivers_every_event_signed_to_the_receiver_and_prints_only_cursors_and_summaries(
    sandbox: Sandbox, sandbox_tenant: int, sandbox_token: Token, receiver: Receiver
) -> None:
    env = sink_env(sandbox, sandbox_tenant, sandbox_token(sandbox_tenant), receiver.url)
    result = run_pandium(env, now=sandbox.now)

    assert result.code == EXIT_OK, result.stderr
    assert receiver.rejected == 0
    keys = receiver.dedup_keys()
    assert keys and len(keys) == len(set(keys))
    doc = result.document
    for trigger in TRIGGERS:
        assert "events" not in doc[trigger]
        assert doc[trigger]["cursor"]
        assert doc[trigger]["summary"]["delivered_to"] == "webhook"
    assert sum(doc[t]["summary"]["events"] for t in TRIGGERS) == len(keys)
    assert SINK_SECRET not in result.stdout + result.stderr
    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "PANDIUM.yaml").read_text("utf-8"))
    jsonschema.validate(doc, manifest["metadata_schema"]["schema"])

    again = run_pandium(next_run_env(env, result.stdout), now=sandbox.now)
    assert again.code == EXIT_OK
    assert receiver.dedup_keys() == keys  # nothing new: nothing sent again


def test_a_receiver_that_reads_batches_gets_one_request_per_page(
    sandbox: Sandbox, sandbox_tenant: int, sandbox_token: Token, receiver: Receiver
) -> None:
    payments = FakeSource("payment_received", list(range(7)), page=3)
    env = sink_env(
        sandbox, sandbox_tenant, sandbox_token(sandbox_tenant), receiver.url, PAN_CFG_SINK_BATCH="true"
    )
    result = run_pandium(env, triggers=specs(payments))
    assert result.code == EXIT_OK, result.stderr
    assert receiver.dedup_keys() == [f"payment_received:{i}" for i in range(7)]
    assert receiver.batches == 3
    assert result.document["payment_received"]["cursor"] == "7"


def test_a_receiver_that_is_down_fails_the_run_keeps_the_cursor_and_the_next_run_delivers_again(
    sandbox: Sandbox, sandbox_tenant: int, sandbox_token: Token
) -> None:
    down = Receiver()
    down.close()  # nothing listens on its port now
    env = sink_env(
        sandbox, sandbox_tenant, sandbox_token(sandbox_tenant), down.url, FORTNOX_PANDIUM_SINK_ATTEMPTS="1"
    )
    failed = run_pandium(env, now=sandbox.now)

    assert failed.code == EXIT_FAILED
    assert failed.stdout == ""  # nothing delivered, nothing committed: no state to print
    assert "did not accept" in failed.stderr and "127.0.0.1" in failed.stderr

    up = Receiver(port=down.port)
    with up.running():
        retried = run_pandium(env, now=sandbox.now)  # Pandium passes no stdout of a failed run
    up.close()
    assert retried.code == EXIT_OK, retried.stderr
    assert up.dedup_keys()
    assert sum(retried.document[t]["summary"]["events"] for t in TRIGGERS) == len(up.dedup_keys())


def test_a_failure_after_some_pages_commits_the_cursor_only_past_the_delivered_events(
    sandbox: Sandbox, sandbox_tenant: int, sandbox_token: Token, receiver: Receiver
) -> None:
    def stop_receiving(_ctx: object, start: int) -> None:
        if start >= 4:
            receiver.refuse_from_now()

    payments = FakeSource("payment_received", list(range(8)), page=2, before_poll=stop_receiving)
    env = sink_env(
        sandbox,
        sandbox_tenant,
        sandbox_token(sandbox_tenant),
        receiver.url,
        FORTNOX_PANDIUM_SINK_ATTEMPTS="1",
    )
    result = run_pandium(env, triggers=specs(payments))

    assert result.code == EXIT_FAILED
    assert receiver.dedup_keys() == [f"payment_received:{i}" for i in range(4)]
    assert result.document["payment_received"]["cursor"] == "4"
    assert result.document["payment_received"]["summary"]["error"]["type"] == "DeliveryError"


def test_events_printed_on_stdout_stop_at_the_size_bound_and_the_next_run_continues(
    sandbox: Sandbox, sandbox_token: Token
) -> None:
    payments = FakeSource("payment_received", list(range(10)), page=2)
    env = pandium_env(sandbox, sandbox_token(), FORTNOX_PANDIUM_STDOUT_MAX_BYTES="300")
    first = run_pandium(env, triggers=specs(payments))

    assert first.code == EXIT_OK
    summary = first.document["payment_received"]["summary"]
    assert summary["stopped_by_event_budget"] is True and summary["delivered_to"] == "stdout"
    printed = first.dedup_keys("payment_received")
    assert 0 < len(printed) < 10
    assert first.document["run"]["status"] == "partial"

    rest = run_pandium(next_run_env(env, first.stdout), triggers=specs(payments)).dedup_keys(
        "payment_received"
    )
    assert rest[0] == f"payment_received:{len(printed)}"  # continues right after: none lost, none twice


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PAN_CFG_SINK_URL": ""}, "sink_url"),
        ({"PAN_CFG_SINK_URL": "ftp://receiver.example/x"}, "sink_url"),
        ({"PAN_SEC_EVENT_SINK_SECRET": ""}, "PAN_SEC_EVENT_SINK_SECRET"),
        ({"PAN_CFG_EVENT_DELIVERY": "carrier-pigeon"}, "event_delivery"),
    ],
)
def test_a_sink_setting_that_cannot_work_stops_the_run_before_any_work(
    sandbox: Sandbox, sandbox_tenant: int, sandbox_token: Token, change: dict[str, str], named: str
) -> None:
    payments = FakeSource("payment_received", [1])
    env = sink_env(sandbox, sandbox_tenant, sandbox_token(sandbox_tenant), "https://receiver.example/in")
    result = run_pandium({**env, **change}, triggers=specs(payments))
    assert result.code == EXIT_CONFIG
    assert result.stdout == ""
    assert named in result.stderr
    assert payments.polls == 0
