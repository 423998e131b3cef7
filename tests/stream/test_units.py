"""The stream's pieces on their own: the checkpoint, the feed's messages, the backoff."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox import feed
from fortnox_connector.secrets import Secret
from fortnox_connector.stream import checkpoint
from fortnox_connector.stream.source import Backoff


def test_a_checkpoint_round_trips_offsets_times_and_seen_numbers() -> None:
    cp = checkpoint.Checkpoint()
    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    cp.move("invoices", "xDy7J", when)
    for n in (1, 2, 3, 7):
        cp.mark("acme", "booked", n)
    cp.mark("globex", "deleted", 21)
    again = checkpoint.decode(cp.encode())
    assert again.offsets == {"invoices": "xDy7J"} and again.at == {"invoices": when}
    assert again.seen["acme"]["booked"].to_json() == [[1, 3], [7, 7]]
    assert 21 in again.seen_set("globex", "deleted") and 22 not in again.seen_set("globex", "deleted")
    json.loads(cp.encode())  # plain JSON


def test_a_checkpoint_is_re_encoded_after_a_mark() -> None:
    cp = checkpoint.Checkpoint()
    cp.mark("acme", "booked", 1)
    first = cp.encode()
    cp.mark("acme", "booked", 5)
    assert cp.encode() != first
    assert checkpoint.decode(cp.encode()).seen["acme"]["booked"].to_json() == [[1, 1], [5, 5]]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"v": 2, "offsets": {}, "at": {}, "seen": {}}',
        '{"v": 1, "offsets": {}, "at": {"invoices": "2026-03-02T10:00:00"}, "seen": {}}',
        '{"v": 1, "offsets": {}, "at": {}, "seen": {"acme": {"booked": [[5, 1]]}}}',
    ],
)
def test_an_unreadable_checkpoint_is_a_config_error_whose_fix_is_to_delete_it(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        checkpoint.decode(text)
    assert err.value.field == "checkpoint"
    assert err.value.hint is not None and "delete it" in err.value.hint


def test_feed_messages_are_events_or_answers() -> None:
    event = feed.parse(
        '{"topic":"invoices","offset":"xDy7J","type":"invoicepayment-bookkeep-v1","tenantId":29302,'
        '"entityId":"3817","timestamp":"2017-12-28T14:59:16.500+01:00"}'
    )
    assert isinstance(event, feed.FeedEvent)
    assert (event.tenant_id, event.entity_id, event.offset) == (29302, "3817", "xDy7J")
    assert event.timestamp is not None and event.timestamp.utcoffset() is not None
    answer = feed.parse('{"response":"add-topics-v1","result":"error","error":"offset out of retention"}')
    assert isinstance(answer, feed.FeedAnswer) and not answer.ok and answer.error == "offset out of retention"


def test_an_event_without_a_zone_keeps_no_timestamp() -> None:
    event = feed.parse(
        '{"topic":"invoices","offset":"a","type":"t","tenantId":1,"entityId":"2","timestamp":"x"}'
    )
    assert isinstance(event, feed.FeedEvent) and event.timestamp is None


@pytest.mark.parametrize("raw", ["nope", "[1]", '{"topic":"invoices"}'])
def test_an_unreadable_message_is_a_protocol_error(raw: str) -> None:
    with pytest.raises(feed.FeedProtocolError):
        feed.parse(raw)


def test_commands_carry_the_secret_and_bearer_tokens_as_fortnox_reads_them() -> None:
    sent = json.loads(feed.add_tenants(Secret("s3cret"), [feed.bearer(Secret("tok"))]))
    assert sent == {"command": "add-tenants-v1", "clientSecret": "s3cret", "accessTokens": ["Bearer tok"]}
    assert json.loads(feed.add_topics({"invoices": None})) == {
        "command": "add-topics-v1",
        "topics": [{"topic": "invoices"}],
    }
    assert json.loads(feed.add_topics({"invoices": "xDy7J"}))["topics"] == [
        {"topic": "invoices", "offset": "xDy7J"}
    ]
    assert json.loads(feed.remove_tenants([1, 2])) == {"command": "remove-tenants-v1", "tenants": [1, 2]}


def test_backoff_grows_to_its_cap_with_full_jitter() -> None:
    rng = random.Random(7)
    backoff = Backoff(base=0.5, cap=30.0)
    delays = [backoff.delay(attempt, rng) for attempt in range(40)]
    assert all(0 <= d <= min(30.0, 0.5 * 2**a) for a, d in enumerate(delays))
    assert max(delays[10:]) > 15  # it does reach far once the cap allows
