"""The webhook receiver's 2xx is the delivery: only it lets the cursor move (issue #6, Airbyte's rule).

A real ``WebhookSink`` feeds a loopback receiver that answers as scripted; ``run_tenant_trigger`` runs the
sandbox's payments page by page (5 a page). Whatever the receiver answers that is not a 2xx — a 5xx or 429
beyond the retries, a redirect, a 4xx — leaves the cursor where the last accepted page put it and the page
in the outbox; the next run, once the receiver answers 2xx again, sends the page first (same
``Idempotency-Key``) and then the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from fortnox_connector.errors import DeliveryError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import run_tenant_trigger
from fortnox_connector.runtime.sinks import WebhookSink
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.runtime.runtime_support import PAGES, add_connected, make_runtime, page_trigger
from tests.runtime.webhook_support import Answer, Receiver


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path) as rt:
        add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
        yield rt


def _sink(receiver: Receiver) -> WebhookSink:
    return WebhookSink(receiver.url, Secret("whsec-gating-test"), max_attempts=2, sleep=lambda _s: None)


MOVED = (302, {"Location": "http://127.0.0.1:9/elsewhere"})


@pytest.mark.parametrize(
    "refusal",
    [[500, 503], [429, 429], [MOVED], [400], [200, 500, 500]],
    ids=["5xx-beyond-retries", "429-beyond-retries", "redirect", "4xx", "2xx-then-5xx-mid-page"],
)
def test_only_a_2xx_moves_the_cursor(runtime: Runtime, receiver: Receiver, refusal: list[Answer]) -> None:
    receiver.statuses = [*[204] * 5, *refusal]  # page 1 accepted, then page 2 refused
    trigger = page_trigger(limit=5)
    with _sink(receiver) as sink:
        first = run_tenant_trigger(runtime, "acme", trigger, sink)
    assert isinstance(first.error, DeliveryError) and first.error.tenant == "acme"
    assert runtime.store.load_cursor("acme", PAGES) == "2"  # only page 1's cursor
    assert len(runtime.store.pending("acme", PAGES)) == 5  # page 2 waits in the outbox
    assert first.delivered == 5
    accepted_first = receiver.accepted_keys()

    with _sink(receiver) as sink:
        second = run_tenant_trigger(runtime, "acme", trigger, sink)
    assert second.ok and second.complete and second.redelivered == 5
    assert runtime.store.load_cursor("acme", PAGES) == "5"
    assert runtime.store.pending("acme", PAGES) == []
    counts = Counter(receiver.accepted_keys())
    assert len(counts) == 20  # every payment accepted
    repeated = {k for k, n in counts.items() if n > 1}
    assert repeated <= set(accepted_first[5:])  # only what the refused page had got through, same key
    assert max(counts.values()) <= 2
