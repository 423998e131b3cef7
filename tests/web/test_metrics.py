"""``/metrics`` during and after a serve run: the figures of that run, in Prometheus's format."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fortnox_connector.contract.records import Event
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import ListSink, add_connected, add_disconnected
from tests.web.conftest import OPERATOR_TOKEN, Web

AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def per_tenant(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (sample, labels), value in samples.items():
        if sample == name:
            tenant = dict(labels)["tenant"]
            out[tenant] = out.get(tenant, 0) + value
    return out


def scrape(web: Web) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"{web.url}/metrics", headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


class ScrapingSink(ListSink):
    """Scrapes ``/metrics`` while its first delivery is under way: the run is in progress then."""

    def __init__(self, web: Web) -> None:
        super().__init__()
        self.web = web
        self.during: dict[tuple[str, tuple[tuple[str, str], ...]], float] | None = None

    def deliver(self, events: Sequence[Event]) -> None:
        if self.during is None:
            self.during = scrape(self.web)
        super().deliver(events)


def test_metrics_show_the_figures_of_a_serve_run(web: Web, sandbox: Sandbox) -> None:
    first, second = sandbox.tenant_ids()[:2]
    add_connected(web.runtime, sandbox, "acme", first)
    add_connected(web.runtime, sandbox, "bolaget", second)
    add_disconnected(web.runtime, sandbox, "lapsed", first)
    web.runtime.store.save_config("acme", {"backfill_days": 400})
    web.runtime.store.save_config("bolaget", {"backfill_days": 400})
    sink = ScrapingSink(web)

    reports = Scheduler(web.runtime, lambda: sink, max_workers=1).run_all()

    assert sink.during is not None
    running = sum(v for (name, labels), v in sink.during.items() if ("outcome", "running") in labels)
    assert running == 1  # the run delivering right then
    after = scrape(web)
    delivered = per_tenant(after, "fortnox_connector_events_delivered_total")
    by_tenant = {r.tenant: sum(j.delivered for j in r.results) for r in reports}
    assert delivered["acme"] == by_tenant["acme"] > 0
    assert delivered["bolaget"] == by_tenant["bolaget"] > 0
    assert sum(
        v for (name, _), v in after.items() if name == "fortnox_connector_events_delivered_total"
    ) == len(sink.events)
    requests = per_tenant(after, "fortnox_connector_fortnox_requests_total")
    assert requests["acme"] >= 2  # one page at least per trigger
    assert after[("fortnox_connector_reconnect_needed", ())] == 1
    assert after[("fortnox_connector_tenant_paused", (("tenant", "lapsed"),))] == 1
    assert after[("fortnox_connector_tenants", (("status", "healthy"),))] == 2
    assert (
        after[
            (
                "fortnox_connector_runs_total",
                (("outcome", "failed"), ("tenant", "lapsed"), ("trigger", "payment_received")),
            )
        ]
        == 1
    )
    assert (
        "fortnox_connector_delivery_lag_seconds",
        (("tenant", "acme"), ("trigger", "invoice_paid")),
    ) in after
    assert (
        after[
            (
                "fortnox_connector_run_duration_seconds_count",
                (("tenant", "acme"), ("trigger", "payment_received")),
            )
        ]
        == 1
    )


def test_health_and_readiness_answer_without_credentials(web: Web) -> None:
    assert httpx.get(f"{web.url}/healthz").text == "ok"
    ready = httpx.get(f"{web.url}/readyz")
    assert (ready.status_code, ready.text) == (200, "ready")
    web.runtime.store.close()
    assert httpx.get(f"{web.url}/readyz").status_code == 503


def test_metrics_count_a_runs_retries_and_token_refreshes(web: Web, sandbox: Sandbox) -> None:
    """Fortnox forgets the stored access token: the first request gets 401, the token is refreshed and
    the request sent once more. That run's record, and so ``/metrics``, counts one retry and one refresh."""
    company = sandbox.tenant_ids()[0]
    add_connected(web.runtime, sandbox, "acme", company)
    stored = web.runtime.store.load_token("acme")
    assert stored is not None and sandbox.oauth.revoke(stored.access_token.reveal())

    Scheduler(web.runtime, ListSink, max_workers=1).run_all()

    after = scrape(web)
    assert per_tenant(after, "fortnox_connector_fortnox_retries_total") == {"acme": 1}
    assert per_tenant(after, "fortnox_connector_token_refreshes_total") == {"acme": 1}
    assert (
        after[
            ("fortnox_connector_token_refreshes_total", (("tenant", "acme"), ("trigger", "payment_received")))
        ]
        == 1
    )  # credited to the run whose request met the 401
