"""The Fortnox stream against the sandbox's WebSocket feed: events, dedup, reconnects, tokens, catch-up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fortnox_connector.declaration.schemas import validator
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.streaming import checkpoint_key, stream_spec
from fortnox_connector.sandbox import Sandbox
from tests.conftest import SANDBOX_START
from tests.runtime.runtime_support import FakeClock, add_connected, add_disconnected, make_runtime
from tests.stream.support import WaitingSink, streaming

pytestmark = pytest.mark.sandbox(feed=True)


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path) as rt:
        rt.settings = rt.settings.with_overrides(feed_url=sandbox.feed_url)
        first, second = sandbox.tenant_ids()[:2]
        add_connected(rt, sandbox, "acme", first)
        add_connected(rt, sandbox, "globex", second)
        yield rt


def invoice(sandbox: Sandbox, company: int, total: str = "1000.00") -> str:
    return str(sandbox.add_invoice(company, Total=total)["DocumentNumber"])


def pay(sandbox: Sandbox, company: int, doc: str, amount: str, *, book: bool = True) -> str:
    number = str(sandbox.add_payment(company, doc, AmountCurrency=amount)["Number"])
    if book:
        sandbox.book_payment(company, number)
    return number


def test_a_booked_payment_is_payment_received_and_the_last_one_also_invoice_paid(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    company = sandbox.tenant_ids()[0]
    sink = WaitingSink()
    with streaming(runtime, sink) as s:
        s.wait_streaming()
        doc = invoice(sandbox, company)
        first = pay(sandbox, company, doc, "400.00")
        sink.wait_keys({f"fortnox:acme:payment:{first}:booked"})
        second = pay(sandbox, company, doc, "600.00")
        events = sink.wait_keys({f"fortnox:acme:invoice:{doc}:paid"})
    assert [(e.trigger, e.dedup_key) for e in events] == [
        ("payment_received", f"fortnox:acme:payment:{first}:booked"),
        ("payment_received", f"fortnox:acme:payment:{second}:booked"),
        ("invoice_paid", f"fortnox:acme:invoice:{doc}:paid"),
    ]
    paid = events[-1].payload
    assert paid["balance"] == "0.00" and paid["total"] == "1000.00"
    assert paid["settled_by"] == "payments"  # as the poll says it: from the invoice's payments
    assert events[1].payload["amount_invoice_currency"] == "600.00" and events[1].payload["booked"] is True
    for event in events:
        validator(f"events/{event.trigger}.json").validate(event.payload)


def test_a_deleted_payment_is_payment_deleted(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[1]
    sink = WaitingSink()
    with streaming(runtime, sink) as s:
        s.wait_streaming()
        number = pay(sandbox, company, invoice(sandbox, company), "100.00", book=False)
        sandbox.delete_payment(company, number)
        [event] = sink.wait_keys({f"fortnox:globex:payment:{number}:deleted"})
    assert event.trigger == "payment_deleted"
    assert event.payload["detected_by"] == "stream"
    assert str(event.payload["deleted_at"]).startswith("2026-03-02T10:00:00")  # the feed's timestamp
    validator("events/payment_deleted.json").validate(event.payload)


def test_a_streamed_payment_costs_at_most_two_requests(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    sink = WaitingSink()
    with streaming(runtime, sink) as s:
        s.wait_streaming()
        docs = [invoice(sandbox, company) for _ in range(6)]
        before = sandbox.stats.requests
        partial = [pay(sandbox, company, d, "10.00") for d in docs[:3]]
        whole = [pay(sandbox, company, d, "1000.00") for d in docs[3:]]  # paid at once: settled_by known
        keys = {f"fortnox:acme:payment:{n}:booked" for n in partial + whole}
        keys |= {f"fortnox:acme:invoice:{d}:paid" for d in docs[3:]}
        events = sink.wait_keys(keys)
        assert sandbox.stats.requests - before == 2 * 6
    assert {e.payload["settled_by"] for e in events if e.trigger == "invoice_paid"} == {"payments"}


def test_duplicates_drops_and_slow_consumer_kicks_never_deliver_a_key_twice(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    company = sandbox.tenant_ids()[0]
    feed = sandbox.feed_server
    assert feed is not None
    sink = WaitingSink()
    expected: set[str] = set()
    with streaming(runtime, sink) as s:
        s.wait_streaming()
        docs = [invoice(sandbox, company) for _ in range(9)]
        feed.duplicate(3)
        for doc in docs[:3]:
            expected.add(f"fortnox:acme:payment:{pay(sandbox, company, doc, '5.00')}:booked")
        sink.wait_keys(expected)
        feed.drop(after=1)
        for doc in docs[3:6]:
            expected.add(f"fortnox:acme:payment:{pay(sandbox, company, doc, '5.00')}:booked")
        sink.wait_keys(expected)
        s.wait_streaming(2)
        feed.kick_slow_consumers()
        s.wait_streaming(3)
        for doc in docs[6:]:
            expected.add(f"fortnox:acme:payment:{pay(sandbox, company, doc, '5.00')}:booked")
        sink.wait_keys(expected)
    counts = Counter(sink.keys)
    assert {k for k, n in counts.items() if n > 1} == set()
    assert set(counts) == expected
    assert feed.stats.duplicates_sent == 3 and feed.stats.drops >= 1 and feed.stats.slow_consumer_kicks == 1


def test_a_held_sink_holds_the_stream_and_nothing_is_lost_when_it_lets_go(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    company = sandbox.tenant_ids()[0]
    sink = WaitingSink()
    with streaming(runtime, sink) as s:
        s.wait_streaming()
        docs = [invoice(sandbox, company) for _ in range(6)]
        sink.hold()
        keys = {f"fortnox:acme:payment:{pay(sandbox, company, d, '7.00')}:booked" for d in docs[:3]}
        assert sink.blocked.wait(10)
        assert sandbox.feed_server is not None
        sandbox.feed_server.kick_slow_consumers()  # the feed gives up on us while we are held
        keys |= {f"fortnox:acme:payment:{pay(sandbox, company, d, '7.00')}:booked" for d in docs[3:]}
        sink.fail(2)  # then the receiver refuses twice: retried, not dropped
        sink.release()
        sink.wait_keys(keys)
    assert sorted(Counter(sink.keys).values()) == [1] * len(keys)
    assert sink.refused == 2


def test_a_refreshed_token_is_re_added_and_the_other_tenants_events_keep_coming(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    acme, globex = sandbox.tenant_ids()[:2]
    old = runtime.store.load_token("acme")
    assert old is not None
    clock = FakeClock(datetime.now(UTC))
    runtime.now = clock  # the token providers' clock
    sink = WaitingSink()
    keys: set[str] = set()
    with streaming(runtime, sink, token_check_s=3600) as s:
        s.wait_streaming()
        docs = [invoice(sandbox, globex) for _ in range(6)]
        acme_doc = invoice(sandbox, acme)
        for doc in docs[:3]:
            keys.add(f"fortnox:globex:payment:{pay(sandbox, globex, doc, '3.00')}:booked")
        clock.advance(seconds=3400)  # the hour is nearly up: the provider refreshes, the stream re-adds acme
        s.call(lambda: s.host.source.token_refreshed("acme") if s.host.source else None)
        for doc in docs[3:]:
            keys.add(f"fortnox:globex:payment:{pay(sandbox, globex, doc, '3.00')}:booked")
        sink.wait_keys(keys)
        s.lines.wait(lambda line: "with new tokens" in line)
        new = runtime.store.load_token("acme")
        assert new is not None and new.access_token != old.access_token
        sandbox.oauth.revoke(old.access_token.reveal())  # only the re-added token can carry acme now
        keys.add(f"fortnox:acme:payment:{pay(sandbox, acme, acme_doc, '1.00')}:booked")
        sink.wait_keys(keys)
    assert sorted(Counter(sink.keys).values()) == [1] * len(keys)


def test_a_refused_token_pauses_that_tenant_only(runtime: Runtime, sandbox: Sandbox) -> None:
    third = sandbox.tenant_ids()[2]
    add_disconnected(runtime, sandbox, "initech", third)
    acme = sandbox.tenant_ids()[0]
    sink = WaitingSink()
    with streaming(runtime, sink) as s:
        s.lines.wait(lambda line: line.startswith("tenant initech: paused"))
        s.wait_streaming()
        key = f"fortnox:acme:payment:{pay(sandbox, acme, invoice(sandbox, acme), '2.00')}:booked"
        sink.wait_keys({key})
    record = runtime.store.require_tenant("initech")
    assert record.paused and record.paused_reason is not None
    assert "fortnox-connector connect initech" in " ".join(s.lines.lines)
    text = " ".join(s.lines.lines)
    assert sandbox.client_secret not in text and "expired-access-token" not in text


def test_restart_resumes_at_the_committed_offset(runtime: Runtime, sandbox: Sandbox) -> None:
    acme = sandbox.tenant_ids()[0]
    docs = [invoice(sandbox, acme) for _ in range(4)]
    sink = WaitingSink()
    heartbeats: list[str] = []
    with streaming(runtime, sink, on_commit=heartbeats.append) as s:
        s.wait_streaming()
        first = {f"fortnox:acme:payment:{pay(sandbox, acme, d, '4.00')}:booked" for d in docs[:2]}
        sink.wait_keys(first)
    stored = runtime.store.load_cursor(*checkpoint_key(stream_spec(runtime), sandbox.client_id))
    assert stored is not None and heartbeats[-1] == stored  # what a Temporal activity would heartbeat
    later = {f"fortnox:acme:payment:{pay(sandbox, acme, d, '4.00')}:booked" for d in docs[2:]}  # while down
    again = WaitingSink()
    with streaming(runtime, again) as s:
        s.wait_streaming()
        again.wait_keys(later)
    assert set(again.keys) == later  # nothing before the committed offset comes again


def test_an_offset_out_of_retention_warns_and_polls_the_gap(runtime: Runtime, sandbox: Sandbox) -> None:
    acme = sandbox.tenant_ids()[0]
    runtime.now = FakeClock(SANDBOX_START + timedelta(minutes=5))  # the poll's window is the sandbox's time
    docs = [invoice(sandbox, acme) for _ in range(2)]
    sink = WaitingSink()
    with streaming(runtime, sink) as s:
        s.wait_streaming()
        sink.wait_keys({f"fortnox:acme:payment:{pay(sandbox, acme, docs[0], '4.00')}:booked"})
    missed = f"fortnox:acme:payment:{pay(sandbox, acme, docs[1], '4.00')}:booked"
    sandbox.feed.expire()  # the feed no longer keeps our offset
    again = WaitingSink()
    with streaming(runtime, again) as s:
        s.lines.wait(lambda line: line.startswith("catch-up: Fortnox refused the stored offset"))
        delivered = again.wait_keys({missed})
        s.wait_streaming()
    assert {e.trigger for e in delivered} <= {"payment_received", "invoice_paid"}
    assert any("catch-up payment_received for acme: ok" in line for line in s.lines.lines)


def test_an_event_handed_over_before_an_earlier_one_is_not_emitted_again_and_the_earlier_not_lost(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    acme, globex = sandbox.tenant_ids()[:2]
    docs = {t: [invoice(sandbox, t) for _ in range(2)] for t in (acme, globex)}
    beats: list[str] = []
    sink = WaitingSink()
    with streaming(runtime, sink, on_commit=beats.append) as s:
        s.wait_streaming()
        first = f"fortnox:globex:payment:{pay(sandbox, globex, docs[globex][0], '1.00')}:booked"
        sink.wait_keys({first})  # the stream has a committed offset now
        slow = pay(sandbox, acme, docs[acme][0], "1.00", book=False)
        sandbox.inject_fault("slow", count=1, path_prefix=f"/3/invoicepayments/{slow}", delay=2.0)
        sandbox.book_payment(acme, slow)
        fast = f"fortnox:globex:payment:{pay(sandbox, globex, docs[globex][1], '1.00')}:booked"
        slow_key = f"fortnox:acme:payment:{slow}:booked"
        sink.wait_keys({fast, slow_key})
    assert sink.keys.index(fast) < sink.keys.index(slow_key)  # handed over as soon as it was done
    after_fast = beats[sink.keys.index(fast)]  # the checkpoint committed after the fast one's delivery
    again = WaitingSink()
    with streaming(runtime, again, checkpoint=after_fast) as s:  # as if the process died right then
        s.wait_streaming()
        again.wait_keys({slow_key})
        marker = f"fortnox:acme:payment:{pay(sandbox, acme, docs[acme][1], '1.00')}:booked"
        again.wait_keys({marker})
    assert again.keys == [slow_key, marker]  # the slow one again (never committed), the fast one not
