"""Reading ``PAN_CTX_RUN_TRIGGERS`` and checking signatures, one trigger at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.pandium.instructions import BodyRefused, read_items
from fortnox_connector.runtime.pandium.run_triggers import RunTrigger, read_run_triggers
from fortnox_connector.runtime.pandium.signatures import SignatureRefused, check_signature, inbound_verifier
from fortnox_connector.secrets import Secret
from tests.pandium.partner import SECRET

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def read(*triggers: object) -> list[RunTrigger]:
    return read_run_triggers({"PAN_CTX_RUN_TRIGGERS": json.dumps(list(triggers))}, tenant="t")


def test_cron_manual_and_schedule_triggers_ask_for_a_poll_and_webhook_and_api_ones_carry_actions() -> None:
    found = read(
        {"id": "1", "source": "cron"},
        {"id": 2, "mode": "manual"},
        {"source": "schedule"},
        {"id": "4", "source": "webhook", "payload": '{"action": "x", "input": {}}'},
        {"id": "5", "source": "API", "payload": {"action": "x", "input": {}}},
        {"id": "6", "payload": {"action": "x", "input": {}}},  # no source: a payload means actions
    )
    assert [t.kind for t in found] == ["poll", "poll", "poll", "actions", "actions", "actions"]
    assert [t.label for t in found] == ["1", "2", "#2", "4", "5", "6"]
    assert found[3].body == b'{"action": "x", "input": {}}'  # a string payload is the raw body
    assert found[4].body == b'{"action":"x","input":{}}'  # an object: its compact JSON


def test_a_payload_file_is_read_as_bytes_and_headers_are_lower_cased(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b'{"action": "register_payment"}')
    [trigger] = read(
        {"source": "webhook", "payload": {"file": str(body)}, "headers": {"Webhook-Id": ["a", "b"], "X": "1"}}
    )
    assert trigger.body == b'{"action": "register_payment"}'
    assert trigger.headers == {"webhook-id": "a b", "x": "1"}


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        ({"source": "webhook", "payload": {"a": 1}, "created": "x"}, "created"),
        ({"source": "carrier-pigeon"}, "unknown trigger source"),
        ({"source": "webhook"}, "no payload"),
        ({"source": "webhook", "payload": {"file": "/nonexistent/x.json"}}, "cannot read"),
        ({"source": "webhook", "payload": "x", "headers": ["a"]}, "headers"),
        ({"source": "webhook", "payload": "x", "headers": {"a": 1}}, "header 'a'"),
        ("just a string", "not an object"),
    ],
)
def test_a_trigger_that_cannot_be_read_is_refused_alone_with_the_reason(trigger: object, reason: str) -> None:
    found = read(trigger, {"source": "cron"})
    assert found[0].refusal is not None and reason in found[0].refusal
    assert found[1].kind == "poll"


def test_a_trigger_list_that_is_not_a_list_of_objects_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PAN_CTX_RUN_TRIGGERS"):
        read_run_triggers({"PAN_CTX_RUN_TRIGGERS": '"cron"'}, tenant="t")
    assert read_run_triggers({}, tenant="t") == []
    [one] = read_run_triggers({"PAN_CTX_RUN_TRIGGERS": '{"source": "cron"}'}, tenant="t")
    assert one.kind == "poll"


def test_a_body_is_an_action_a_batch_or_a_list_and_each_bad_item_is_refused_alone() -> None:
    assert [i.action for i in read_items(b'{"action": "a", "input": {}}')] == ["a"]
    items = read_items(b'{"items": [{"action": "a", "input": {}}, {"action": "b"}, {"input": {}}, 3]}')
    assert [i.refusal is None for i in items] == [True, False, False, False]
    assert [i.action for i in read_items(b'[{"action": "a", "input": {}, "idempotency_key": "k"}]')] == ["a"]
    for bad in (b"{", b'"a"', b"[]", b'{"items": [], "x": 1}'):
        with pytest.raises(BodyRefused):
            read_items(bad)


def sign(body: bytes, at: datetime, msg_id: str = "msg_1", secret: str = SECRET) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def check(body: bytes, headers: dict[str, str], *, allow_unsigned: bool = False) -> str:
    verifier = inbound_verifier(Secret(SECRET), tenant="t")
    return check_signature(body, headers, verifier, allow_unsigned=allow_unsigned, now=NOW)


def test_a_signature_verifies_among_several_as_while_a_secret_is_rotated() -> None:
    body = b'{"action": "register_payment"}'
    headers = sign(body, NOW - timedelta(minutes=12))  # waited for the run in flight
    headers["webhook-signature"] = "v1,AAAA v2,xyz garbage " + headers["webhook-signature"]
    assert check(body, headers) == "verified"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-timestamp": "yesterday"}, "Unix seconds"),
        ({"webhook-signature": "v1,not base64!"}, "does not match"),
        ({"webhook-id": "msg_2"}, "does not match"),
        ({"webhook-id": ""}, "missing"),
    ],
)
def test_a_signature_that_is_wrong_or_malformed_is_refused_with_the_reason(
    change: dict[str, str], reason: str
) -> None:
    body = b'{"action": "register_payment"}'
    headers = {**sign(body, NOW), **change}
    with pytest.raises(SignatureRefused, match=reason):
        check(body, headers)


def test_an_unsigned_body_passes_only_when_allowed_and_a_bad_secret_is_a_config_error() -> None:
    with pytest.raises(SignatureRefused, match="not signed"):
        check(b"{}", {})
    assert check(b"{}", {}, allow_unsigned=True) == "unsigned"
    with pytest.raises(ConfigError, match="PAN_SEC_INBOUND_WEBHOOK_SECRET"):
        inbound_verifier(Secret("whsec_%%%"), tenant="t")
