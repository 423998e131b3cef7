"""The sandbox's WebSocket feed speaks Fortnox's commands and emits payment events with per-topic offsets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fortnox_connector.sandbox import Sandbox
from fortnox_connector.sandbox.feed import OffsetExpired, decode_offset, encode_offset

pytestmark = pytest.mark.sandbox(feed=True)
TIMEOUT = 10


@pytest.fixture
def ws(sandbox: Sandbox) -> Iterator[ClientConnection]:
    with connect(sandbox.feed_url, open_timeout=TIMEOUT) as conn:
        yield conn


def ask(ws: ClientConnection, command: str, **fields: Any) -> dict[str, Any]:
    ws.send(json.dumps({"command": command, **fields}))
    return next_message(ws)


def next_message(ws: ClientConnection) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return answer


def subscribe(
    sandbox: Sandbox, ws: ClientConnection, tokens: list[str], offset: str | None = None
) -> dict[str, Any]:
    added = ask(ws, "add-tenants-v1", clientSecret=sandbox.client_secret, accessTokens=tokens)
    topic: dict[str, Any] = {"topic": "invoices", **({"offset": offset} if offset else {})}
    assert ask(ws, "add-topics-v1", topics=[topic])["result"] == "ok"
    assert ask(ws, "subscribe-v1") == {"response": "subscribe-v1", "result": "ok"}
    return added


def unbooked_payment(sandbox: Sandbox, tenant: int) -> str:
    invoice = sandbox.add_invoice(tenant, Total="1000.00")
    return str(sandbox.add_payment(tenant, invoice["DocumentNumber"], AmountCurrency="400.00")["Number"])


def test_add_tenants_maps_each_token_as_sent_to_its_tenant_and_lists_invalid_ones(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str]
) -> None:
    first, second = sandbox.tenant_ids()[:2]
    bare, bearer = sandbox_token(first), f"Bearer {sandbox_token(second)}"
    answer = ask(
        ws, "add-tenants-v1", clientSecret=sandbox.client_secret, accessTokens=[bare, bearer, "nonsense"]
    )
    assert answer == {
        "response": "add-tenants-v1",
        "result": "ok",
        "tenantIds": {bare: first, bearer: second},
        "invalidTokens": ["nonsense"],
    }
    assert ask(ws, "list-tenants-v1")["tenantIds"] == [first, second]


def test_a_wrong_client_secret_is_an_error_answer(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str]
) -> None:
    answer = ask(ws, "add-tenants-v1", clientSecret="wrong", accessTokens=[sandbox_token()])
    assert answer["result"] == "error"


def test_a_booked_payment_is_an_invoicepayment_bookkeep_event_naming_the_payment(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str], sandbox_tenant: int
) -> None:
    subscribe(sandbox, ws, [sandbox_token()])
    number = unbooked_payment(sandbox, sandbox_tenant)
    sandbox.book_payment(sandbox_tenant, number)
    event = next_message(ws)
    assert event["topic"] == "invoices"
    assert event["type"] == "invoicepayment-bookkeep-v1"
    assert event["tenantId"] == sandbox_tenant
    assert event["entityId"] == number
    assert event["timestamp"].startswith("2026-03-02T10:00:00.000+01:00")
    assert isinstance(event["offset"], str) and event["offset"]


def test_booking_and_deleting_through_the_rest_api_emit_events_in_order(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str], sandbox_tenant: int
) -> None:
    token = sandbox_token()
    subscribe(sandbox, ws, [token])
    booked, deleted = unbooked_payment(sandbox, sandbox_tenant), unbooked_payment(sandbox, sandbox_tenant)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as http:
        assert http.put(f"/3/invoicepayments/{booked}/bookkeep").status_code == 200
        assert http.delete(f"/3/invoicepayments/{deleted}").status_code == 204
    events = [next_message(ws), next_message(ws)]
    assert [(e["type"], e["entityId"]) for e in events] == [
        ("invoicepayment-bookkeep-v1", booked),
        ("invoicepayment-deleted-v1", deleted),
    ]
    assert decode_offset(events[1]["offset"]) == decode_offset(events[0]["offset"]) + 1


def test_the_control_api_books_and_deletes_with_events(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str], sandbox_tenant: int
) -> None:
    subscribe(sandbox, ws, [sandbox_token()])
    number = unbooked_payment(sandbox, sandbox_tenant)
    other = unbooked_payment(sandbox, sandbox_tenant)
    with httpx.Client(base_url=sandbox.base_url) as http:
        assert http.post(f"/_sandbox/tenants/{sandbox_tenant}/payments/{number}/book").status_code == 200
        assert http.post(f"/_sandbox/tenants/{sandbox_tenant}/payments/{other}/delete").status_code == 200
    assert [next_message(ws)["type"], next_message(ws)["type"]] == [
        "invoicepayment-bookkeep-v1",
        "invoicepayment-deleted-v1",
    ]


def test_only_the_added_tenants_events_arrive(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str]
) -> None:
    first, second = sandbox.tenant_ids()[:2]
    subscribe(sandbox, ws, [sandbox_token(second)])
    sandbox.book_payment(first, unbooked_payment(sandbox, first))
    number = unbooked_payment(sandbox, second)
    sandbox.book_payment(second, number)
    event = next_message(ws)
    assert (event["tenantId"], event["entityId"]) == (second, number)


def test_an_offset_resumes_at_that_event(
    sandbox: Sandbox, sandbox_token: Callable[..., str], sandbox_tenant: int
) -> None:
    numbers = [unbooked_payment(sandbox, sandbox_tenant) for _ in range(3)]
    token = sandbox_token()
    with connect(sandbox.feed_url) as ws:
        subscribe(sandbox, ws, [token])
        for n in numbers:
            sandbox.book_payment(sandbox_tenant, n)
        offsets = [next_message(ws)["offset"] for _ in numbers]
    with connect(sandbox.feed_url) as ws:
        subscribe(sandbox, ws, [token], offset=offsets[1])
        assert [next_message(ws)["entityId"] for _ in range(2)] == numbers[1:]


def test_remove_tenants_takes_ids_or_tokens(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str]
) -> None:
    first, second = sandbox.tenant_ids()[:2]
    token = sandbox_token(second)
    ask(ws, "add-tenants-v1", clientSecret=sandbox.client_secret, accessTokens=[sandbox_token(first), token])
    assert ask(ws, "remove-tenants-v1", tenants=[first])["result"] == "ok"
    assert ask(ws, "remove-tenants-v1", accessTokens=[f"Bearer {token}"])["result"] == "ok"
    assert ask(ws, "list-tenants-v1")["tenantIds"] == []


def test_an_expired_offset_is_refused_and_an_unknown_topic_listed(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str], sandbox_tenant: int
) -> None:
    sandbox.book_payment(sandbox_tenant, unbooked_payment(sandbox, sandbox_tenant))
    offset = sandbox.feed.all("invoices")[-1].offset
    sandbox.feed.expire()
    with pytest.raises(OffsetExpired):
        sandbox.feed.resolve("invoices", offset)
    answer = ask(ws, "add-topics-v1", topics=[{"topic": "invoices", "offset": offset}, {"topic": "nope"}])
    assert answer["result"] == "error"
    assert answer["invalidOffsets"] == ["invoices"]
    assert answer["invalidTopics"] == ["nope"]


def test_events_older_than_retention_cannot_be_resumed(sandbox: Sandbox, sandbox_tenant: int) -> None:
    sandbox.book_payment(sandbox_tenant, unbooked_payment(sandbox, sandbox_tenant))
    offset = sandbox.feed.all("invoices")[-1].offset
    sandbox.feed.resolve("invoices", offset)
    sandbox.advance(15 * 24 * 3600)
    with pytest.raises(OffsetExpired):
        sandbox.feed.resolve("invoices", offset)


def test_offsets_are_opaque_strings_that_round_trip() -> None:
    assert [decode_offset(encode_offset(n)) for n in (0, 1, 61, 62, 10**9)] == [0, 1, 61, 62, 10**9]
    with pytest.raises(OffsetExpired):
        decode_offset("no-such!")


def test_duplicate_fault_sends_the_next_event_twice(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str], sandbox_tenant: int
) -> None:
    subscribe(sandbox, ws, [sandbox_token()])
    assert sandbox.feed_server is not None
    sandbox.feed_server.duplicate(1)
    sandbox.book_payment(sandbox_tenant, unbooked_payment(sandbox, sandbox_tenant))
    assert next_message(ws) == next_message(ws)


def test_drop_fault_cuts_the_connection(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str]
) -> None:
    subscribe(sandbox, ws, [sandbox_token()])
    with httpx.Client(base_url=sandbox.base_url) as http:
        assert http.post("/_sandbox/feed/faults", json={"kind": "drop"}).status_code == 200
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=TIMEOUT)


def test_slow_consumer_fault_closes_with_1008(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str]
) -> None:
    subscribe(sandbox, ws, [sandbox_token()])
    with httpx.Client(base_url=sandbox.base_url) as http:
        answer = http.post("/_sandbox/feed/faults", json={"kind": "slow_consumer"}).json()
    assert answer["kicked"] == 1
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


@pytest.mark.sandbox(feed=True, token_ttl=60)
def test_a_tenant_whose_token_expired_gets_no_events_until_re_added(
    sandbox: Sandbox, ws: ClientConnection, sandbox_token: Callable[..., str], sandbox_tenant: int
) -> None:
    subscribe(sandbox, ws, [sandbox_token()])
    sandbox.advance(61)
    sandbox.book_payment(sandbox_tenant, unbooked_payment(sandbox, sandbox_tenant))
    fresh = sandbox_token()
    ask(ws, "add-tenants-v1", clientSecret=sandbox.client_secret, accessTokens=[fresh])
    number = unbooked_payment(sandbox, sandbox_tenant)
    sandbox.book_payment(sandbox_tenant, number)
    assert next_message(ws)["entityId"] == number
