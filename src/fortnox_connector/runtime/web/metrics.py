"""``/metrics`` in Prometheus's text format, computed from the store at each scrape.

A custom collector (prometheus-client) reads run history, tenants, tokens and the outbox when Prometheus
scrapes, so the figures are those of every process that shares the store (``serve``, ``run``, another
worker), survive restarts, and need no second source of truth. Counters come from run history summed per
(tenant, trigger); per-tenant series are bounded by the number of tenants the operator added (above
``max_tenant_series`` tenants only the totals are exported, to keep the cardinality bounded).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from fortnox_connector.runtime.store.base import RunStats, RuntimeStore
from fortnox_connector.runtime.web.health import STATUS_TEXT, all_health

P = "fortnox_connector_"


class StoreCollector(Collector):
    def __init__(
        self,
        store: RuntimeStore,
        triggers: Callable[[], Sequence[str]],
        now: Callable[[], datetime],
        *,
        max_tenant_series: int = 1000,
    ) -> None:
        self.store = store
        self.triggers = triggers
        self.now = now
        self.max_tenant_series = max_tenant_series

    def collect(self) -> Iterator[Metric]:
        stats = self.store.run_stats()
        yield from self._run_counters(stats)
        yield from self._tenant_gauges()

    def _run_counters(self, stats: Sequence[RunStats]) -> Iterator[Metric]:
        labels = ["tenant", "trigger"]
        runs = CounterMetricFamily(
            P + "runs", "Runs of a trigger (or an action) by outcome.", labels=[*labels, "outcome"]
        )
        delivered = CounterMetricFamily(P + "events_delivered", "Events the sink accepted.", labels=labels)
        events = CounterMetricFamily(P + "events", "Events the triggers emitted.", labels=labels)
        requests = CounterMetricFamily(P + "fortnox_requests", "Requests sent to Fortnox.", labels=labels)
        limited = CounterMetricFamily(P + "rate_limited", "429 answers from Fortnox.", labels=labels)
        retries = CounterMetricFamily(
            P + "fortnox_retries",
            "Requests sent to Fortnox again (after a 429, a 5xx, no answer, or a 401 with a new token).",
            labels=labels,
        )
        refreshes = CounterMetricFamily(
            P + "token_refreshes", "Access tokens refreshed for the runs' requests.", labels=labels
        )
        duration = SummaryMetricFamily(P + "run_duration_seconds", "Time the runs took.", labels=labels)
        for s in stats:
            key = [s.tenant, s.trigger]
            runs.add_metric([*key, "ok"], s.runs - s.failed - s.running)
            runs.add_metric([*key, "failed"], s.failed)
            runs.add_metric([*key, "running"], s.running)
            delivered.add_metric(key, s.delivered)
            events.add_metric(key, s.events)
            requests.add_metric(key, s.requests)
            limited.add_metric(key, s.rate_limited)
            retries.add_metric(key, s.retries)
            refreshes.add_metric(key, s.token_refreshes)
            duration.add_metric(key, count_value=s.runs - s.running, sum_value=s.duration_s)
        yield from (runs, delivered, events, requests, limited, retries, refreshes, duration)

    def _tenant_gauges(self) -> Iterator[Metric]:
        now = self.now()
        health = all_health(self.store, self.triggers(), now)
        by_status = Counter(h.status for h in health)
        tenants = GaugeMetricFamily(P + "tenants", "Tenants by health.", labels=["status"])
        for status in STATUS_TEXT:
            tenants.add_metric([status], by_status.get(status, 0))
        reconnect = GaugeMetricFamily(P + "reconnect_needed", "Tenants paused until they reconnect.")
        reconnect.add_metric([], by_status.get("must_reconnect", 0))
        yield from (tenants, reconnect)
        if len(health) > self.max_tenant_series:
            return
        lag = GaugeMetricFamily(
            P + "delivery_lag_seconds",
            "Time since the last successful run finished.",
            labels=["tenant", "trigger"],
        )
        pending = GaugeMetricFamily(
            P + "outbox_pending", "Events waiting for delivery.", labels=["tenant", "trigger"]
        )
        paused = GaugeMetricFamily(
            P + "tenant_paused", "1 while the tenant must reconnect.", labels=["tenant"]
        )
        age = GaugeMetricFamily(
            P + "refresh_token_age_seconds", "Age of the stored refresh token.", labels=["tenant"]
        )
        for h in health:
            tid = h.record.id
            paused.add_metric([tid], 1 if h.record.paused else 0)
            if h.token_rotated_at is not None and h.record.auth_mode == "authorization_code":
                age.add_metric([tid], (now - h.token_rotated_at).total_seconds())
            for t in h.triggers:
                pending.add_metric([tid, t.trigger], t.pending)
                value = t.lag(now)
                if value is not None:
                    lag.add_metric([tid, t.trigger], value.total_seconds())
        yield from (lag, pending, paused, age)


def registry_for(
    store: RuntimeStore, triggers: Callable[[], Sequence[str]], now: Callable[[], datetime]
) -> CollectorRegistry:
    """A registry of its own (not the process-global one): two apps in one process never mix."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, triggers, now))
    return registry
