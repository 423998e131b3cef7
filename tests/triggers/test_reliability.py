"""At-least-once under trouble: crashes between delivery and commit, 429 storms, 5xx and broken answers
mid-backfill, records deleted while paging, thin list items, missing scopes, unreadable cursors."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest

from fortnox_connector.contract.records import Event
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.errors import MissingScope
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.triggers import payment_received
from fortnox_connector.triggers.cursor import decode
from tests.triggers.support import (
    PAYMENTS,
    Crash,
    Host,
    Recorder,
    crash_on_commit,
    inject_after_first_delivery,
    make_client,
    make_ctx,
    run_until_complete,
)

LIST = "/3/invoicepayments"


def seed_booked(sandbox: Sandbox, tenant: int, n: int) -> list[str]:
    """``n`` more payments, all booked; returns every booked payment number of the tenant."""
    sandbox.seed_payments(tenant, n)
    with sandbox.store.lock:
        t = sandbox.store.tenant(tenant)
        for number in list(t.payments):
            sandbox.store.book(t, number, sandbox.now())
        return [str(n) for n in sorted(t.payments)]


def keys_of(numbers: Sequence[str], tenant: int) -> set[str]:
    return {f"fortnox:{tenant}:payment:{n}:booked" for n in numbers}


def test_crash_between_delivery_and_commit_re_emits_the_same_keys(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    expected = keys_of(seed_booked(sandbox, sandbox_tenant, 1200), sandbox_tenant)
    host = make_host()
    host.on_commit = crash_on_commit(2)
    with pytest.raises(Crash):
        host.run()
    page2 = host.keys()[500:]
    assert len(page2) == 500

    host.on_commit = None
    outcome = host.run()  # restarts from the cursor committed after page 1

    assert outcome.complete
    counts = Counter(host.keys())
    assert set(counts) == expected
    assert {k for k, c in counts.items() if c == 2} == set(page2)  # the same keys, again
    assert max(counts.values()) == 2


@pytest.mark.parametrize(
    ("kind", "count"), [("429", 4), ("429", 12), ("500", 3), ("503", 9), ("drop", 2), ("malformed", 1)]
)
def test_faults_mid_backfill_end_with_every_event_once_after_dedup(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], kind: str, count: int
) -> None:
    expected = keys_of(seed_booked(sandbox, sandbox_tenant, 1700), sandbox_tenant)
    host = make_host()
    host.on_deliver = inject_after_first_delivery(sandbox, kind, count, LIST)
    run_until_complete(host, PAYMENTS, sandbox_tenant)
    assert sandbox.stats.faults == count
    assert set(host.keys()) == expected
    assert len(host.keys()) == len(expected)  # a failed page is never delivered, so none twice


def test_a_429_storm_beyond_the_retries_stops_with_the_cursor_at_the_last_delivered_page(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    seed_booked(sandbox, sandbox_tenant, 1200)
    host = make_host()
    host.on_deliver = lambda events: sandbox.inject_fault("429", count=50, path_prefix=LIST)

    outcome = host.run(may_fail=True)

    assert outcome.error is not None and "429" in str(outcome.error) and "Fix:" in str(outcome.error)
    assert outcome.cursor is not None
    committed = decode(outcome.cursor, tenant="t", trigger=payment_received.NAME)
    # the cursor points at the first page not delivered (pages read ahead before the storm may have been)
    assert committed.run is not None and committed.run.page == len(host.delivered) // 500 + 1
    assert len(host.delivered) in (500, 1000)
    assert outcome.summary.requests == host.ctx.client.requests_sent  # the failed page's tries count too
    assert outcome.summary.requests > 2


def test_a_deletion_while_paging_restarts_at_page_one_and_skips_nothing(
    sandbox: Sandbox,
    sandbox_tenant: int,
    make_host: Callable[..., Host],
    client: FortnoxClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox.seed_payments(sandbox_tenant, 1200)  # unbooked: deletable
    host = make_host(emit_unbooked_payments=True)
    deleted: list[str] = []

    def delete_one_on_page_one(events: Sequence[Event]) -> None:
        if not deleted:
            deleted.append(str(events[3].payload["payment_number"]))
            client.delete_invoice_payment(deleted[0])

    host.on_deliver = delete_one_on_page_one
    with caplog.at_level(logging.WARNING, logger="tests.triggers"):
        outcome = host.run()

    remaining = {p["Number"] for p in sandbox.payments(sandbox_tenant)}
    emitted = {str(p["payment_number"]) for p in host.payloads()}
    assert remaining <= emitted  # without the restart the first record of page 2 would be skipped
    assert emitted - remaining == set(deleted)
    assert len(host.keys()) == len(set(host.keys()))  # the re-read pages were dropped as seen
    assert outcome.summary.pages == 2 + 3  # pages 1 and 2 (the shrink seen), then 1, 2, 3 again
    assert "reading again from page 1" in caplog.text


def test_thin_list_items_fetch_single_payments_and_count_the_requests(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], recorder: Recorder
) -> None:
    thin_keys = {"@url", "Amount", "Booked", "Currency", "CurrencyRate", "CurrencyUnit", "InvoiceNumber"}
    thin_keys |= {"Number", "PaymentDate", "Source", "WriteOffExist"}

    def thin(request: httpx.Request, data: Any) -> Any:
        if request.url.path == LIST:
            data["InvoicePayments"] = [
                {k: v for k, v in item.items() if k in thin_keys} for item in data["InvoicePayments"]
            ]
        return data

    recorder.rewrite = thin
    host = make_host()

    outcome = host.run()

    booked = [p for p in sandbox.payments(sandbox_tenant) if p["Booked"]]
    singles = [p for p in recorder.paths() if p.startswith(f"GET {LIST}/")]
    assert len(singles) == len(booked) == outcome.summary.events
    assert outcome.summary.requests == 1 + len(booked)
    by_number = {p["payment_number"]: p for p in host.payloads()}
    for p in booked:
        event = by_number[p["Number"]]
        assert event["ocr"] == p["InvoiceOCR"] and event["customer_name"] == p["InvoiceCustomerName"]
        assert event["voucher"]["number"] == p["VoucherNumber"]


def test_a_booked_payment_deleted_before_its_single_fetch_is_reported_not_received(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], recorder: Recorder
) -> None:
    def add_a_vanished_thin_item(request: httpx.Request, data: Any) -> Any:
        if request.url.path == LIST:
            ghost = dict(data["InvoicePayments"][0], Number="99999", Booked=True)
            del ghost["InvoiceOCR"]
            data["InvoicePayments"].append(ghost)
        return data

    recorder.rewrite = add_a_vanished_thin_item
    host = make_host()

    outcome = host.run()

    received = {e.payload["payment_number"] for e in host.delivered if e.trigger == "payment_received"}
    assert "99999" not in received
    assert f"GET {LIST}/99999" in recorder.paths()
    booked = sum(1 for p in sandbox.payments(sandbox_tenant) if p["Booked"])
    assert outcome.summary.events == booked + 1 and outcome.summary.vanished == 1  # + its payment_deleted
    assert outcome.summary.skipped == len(sandbox.payments(sandbox_tenant)) - booked + 1


def test_a_missing_scope_stops_the_run_naming_tenant_and_fix(
    sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    with make_client(sandbox, sandbox_tenant, recorder, scopes=("invoice",)) as client:
        host = Host(make_ctx(sandbox, client, TenantConfig()))
        outcome = host.run(may_fail=True)
    assert isinstance(outcome.error, MissingScope)
    assert f"tenant {sandbox_tenant}" in str(outcome.error) and "'payment'" in str(outcome.error)
    assert host.cursors == {} and host.delivered == []


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        ("not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"v": 99, "trigger": "payment_received"}', "version is 99"),
        ('{"v": 1, "trigger": "invoice_paid", "since": "2026-03-01T00:00:00+01:00"}', "invoice_paid"),
        ('{"v": 1, "trigger": "payment_received", "since": "2026-03-01 00:00"}', "no UTC offset"),
        (
            '{"v": 1, "trigger": "payment_received", "since": "2026-03-01T00:00:00Z", "run": {"page": 0}}',
            "page",
        ),
        (
            '{"v": 1, "trigger": "payment_received", "since": "2026-03-01T00:00:00Z", "seen": {"b": [[5]]}}',
            "ranges",
        ),
    ],
)
def test_an_unreadable_cursor_is_a_config_error_naming_tenant_trigger_and_fix(
    make_host: Callable[..., Host], sandbox_tenant: int, recorder: Recorder, stored: str, why: str
) -> None:
    host = make_host()
    host.cursors[(str(sandbox_tenant), PAYMENTS.name)] = stored

    outcome = host.run(may_fail=True)

    assert isinstance(outcome.error, ConfigError) and outcome.error.field == "cursor"
    text = str(outcome.error)
    assert f"tenant {sandbox_tenant}" in text and "payment_received" in text and why in text
    assert "Fix:" in text and "backfill_days" in text
    assert recorder.requests == []  # nothing asked of Fortnox with a cursor we cannot trust


def test_a_naive_host_clock_is_refused_before_asking_fortnox(
    make_host: Callable[..., Host], recorder: Recorder
) -> None:
    host = make_host()
    host.ctx = dataclasses.replace(host.ctx, now=lambda: datetime(2026, 3, 2, 10, 0))  # noqa: DTZ001

    outcome = host.run(may_fail=True)

    assert outcome.error is not None and "naive" in str(outcome.error) and "Fix:" in str(outcome.error)
    assert recorder.requests == [] and host.cursors == {}


def test_one_poll_is_one_page_until_the_last(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    seed_booked(sandbox, sandbox_tenant, 1100)  # 1120 payments: pages of 500, 500, 120
    ctx = make_host().ctx
    results = []
    cursor = None
    for _ in range(3):
        result = payment_received.poll(ctx, cursor)
        results.append(result)
        cursor = result.cursor
    assert [len(r.events) for r in results] == [500, 500, 120]
    assert [r.more for r in results] == [True, True, False]
    assert [(r.summary.pages, r.summary.requests, r.summary.total_pages) for r in results] == [(1, 1, 3)] * 3
    second = decode(results[1].cursor, tenant="t", trigger=payment_received.NAME)
    assert second.run is not None and second.run.page == 3 and second.run.total == 1120


def test_write_offs_only_flagged_in_the_list_are_fetched_and_emitted(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], recorder: Recorder
) -> None:
    write_off = {"Amount": 0.5, "AccountNumber": 3740, "Currency": "SEK", "Description": "Öresavrundning"}

    def flag_write_offs(request: httpx.Request, data: Any) -> Any:
        if request.url.path == LIST:
            for item in data["InvoicePayments"]:
                item["WriteOffExist"] = True
        elif request.url.path.startswith(f"{LIST}/"):
            data["InvoicePayment"]["WriteOffs"] = [write_off]
        return data

    recorder.rewrite = flag_write_offs
    host = make_host()

    outcome = host.run()

    assert outcome.summary.events > 0
    assert outcome.summary.requests == 1 + outcome.summary.events
    for payload in host.payloads():
        assert payload["write_offs"] == [
            {
                "amount": "0.50",
                "account_number": 3740,
                "currency": "SEK",
                "cost_center": None,
                "project": None,
                "description": "Öresavrundning",
            }
        ]
