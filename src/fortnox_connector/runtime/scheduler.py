"""``serve``: run every tenant's triggers on its cron schedule, tenants concurrently on a thread pool.

When is a tenant due? Its schedule (``TenantConfig.schedule``, default ``0 23 * * *``) is read in its
time zone (default Europe/Stockholm). The next run is the first scheduled time after the tenant's last run
(from run history: the latest start among its triggers' runs), or after it was added if it never ran. So
the scheduler keeps no state of its own: after a restart it runs a tenant whose time passed while it was
down, once, and otherwise waits. Paused tenants (waiting for a reconnect) are skipped and reported; a
tenant whose run fails or whose config is broken is reported and the others go on.

Time is injected (``clock``) and waiting is injected (``wait``), so tests drive it without sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from fortnox_connector.contract.records import utc_now
from fortnox_connector.errors import ConfigError, ConnectorError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import JobResult, run_tenant_trigger
from fortnox_connector.runtime.sinks.base import Sink
from fortnox_connector.runtime.store.base import TenantRecord
from fortnox_connector.timezones import zone_of

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Wait = Callable[[float], bool]  # wait up to n seconds; True when asked to stop
SinkFactory = Callable[[], Sink]
MAX_IDLE_S = 60.0  # look again at least this often (new tenants, resumed tenants, changed schedules)


@dataclass(slots=True)
class TenantRun:
    """One tenant's scheduled run: a result per trigger, or why it did not run."""

    tenant: str
    results: list[JobResult] = field(default_factory=list)
    paused_reason: str | None = None  # skipped: paused before the run
    error: ConnectorError | None = None  # could not start (config), or the first trigger error

    @property
    def ok(self) -> bool:
        return self.error is None and self.paused_reason is None and all(r.ok for r in self.results)

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None or any(r.paused for r in self.results)


def schedule_of(runtime: Runtime, record: TenantRecord) -> tuple[str, ZoneInfo]:
    """The tenant's cron expression and time zone, or a ``ConfigError`` naming the bad one.

    ``runtime.config`` checks both (the connector's config reader), so a config stored
    before that check, or edited in the database, is refused here too, for that tenant only.
    """
    expr, zone = runtime.schedule(record.id)
    return expr, zone_of(zone, tenant=record.id)


def _next_slot(slots: croniter, expr: str, tenant: str) -> datetime:
    try:
        nxt: datetime = slots.get_next(datetime)
    except (ValueError, KeyError, OverflowError):  # croniter's CroniterBadDateError is a ValueError
        raise ConfigError(
            f"the schedule {expr!r} never fires",
            field="schedule",
            tenant=tenant,
            hint=f"set one that fires: `fortnox-connector tenants set {tenant} --set schedule='0 23 * * *'`",
        ) from None
    return nxt


def _tenant_error(tenant: str, exc: Exception) -> ConnectorError:
    """A ``ConnectorError`` for anything one tenant's schedule raised (a bug is logged with its traceback)."""
    if isinstance(exc, ConnectorError):
        return exc.with_tenant(tenant)
    log.error("tenant %s: its schedule could not be read", tenant, exc_info=exc, extra={"tenant": tenant})
    return ConnectorError(
        f"its schedule could not be read ({type(exc).__name__})",
        tenant=tenant,
        hint=f"check `fortnox-connector tenants show {tenant}`; see the log for the traceback and report it",
    )


class Scheduler:
    """Runs tenants' triggers when due. ``triggers``: names to run (default: all the catalog has)."""

    def __init__(
        self,
        runtime: Runtime,
        sink_factory: SinkFactory,
        *,
        triggers: Sequence[str] | None = None,
        max_workers: int = 8,
        clock: Clock = utc_now,
        on_result: Callable[[TenantRun], None] | None = None,
        max_idle_s: float = MAX_IDLE_S,
    ) -> None:
        self.runtime = runtime
        self.sink_factory = sink_factory
        self.triggers = list(triggers) if triggers is not None else runtime.catalog.trigger_names()
        self.max_workers = max(1, max_workers)
        self.clock = clock
        self.on_result = on_result
        self.max_idle_s = max_idle_s
        self._guard = threading.Lock()
        self._running: set[str] = set()
        self._attempted: dict[str, datetime] = {}  # tenant -> the last slot started in this process
        self._reported: dict[str, str] = {}  # tenant -> the pause or error already reported

    # -- when ------------------------------------------------------------------------------------------------
    def last_run(self, record: TenantRecord) -> datetime:
        """When the tenant last ran (the latest start among its triggers' runs), or when it was added."""
        latest = record.created_at
        # Only this scheduler's triggers: actions (``act:…``, any number of them) are in run history too.
        for run in self.runtime.store.list_runs(record.id, triggers=self.triggers, limit=1):
            latest = max(latest, run.started_at)
        with self._guard:
            attempted = self._attempted.get(record.id)
        return max(latest, attempted) if attempted is not None else latest

    def next_due(self, record: TenantRecord) -> datetime:
        """The first scheduled time after the tenant's last run (or the last slot tried here), aware."""
        expr, zone = schedule_of(self.runtime, record)
        after = self.last_run(record).astimezone(zone)
        slots = croniter(expr, after)
        nxt = _next_slot(slots, expr, record.id)
        # When the clocks go back an hour repeats; croniter yields its slots twice (02:30 CEST, then
        # 02:30 CET). Cron runs a wall-clock time once: a slot not later on the wall than the last run is
        # that repeat. (Same-zone datetimes compare by wall time anyway, ignoring ``fold``: said openly.)
        while nxt.replace(tzinfo=None) <= after.replace(tzinfo=None):
            nxt = _next_slot(slots, expr, record.id)
        return nxt

    def due(self, now: datetime | None = None) -> tuple[list[TenantRecord], list[TenantRun]]:
        """Tenants due at ``now`` (not paused, not running), and reports for paused or misconfigured ones.

        A due tenant's slot counts as taken, so it is not started twice for one slot (even if its run
        fails before recording anything). A paused tenant is reported once per pause.
        """
        now = now or self.clock()
        due: list[TenantRecord] = []
        reports: list[TenantRun] = []
        for record in self.runtime.store.list_tenants():
            with self._guard:
                if record.id in self._running:
                    continue
            try:
                when = self.next_due(record)
            except Exception as exc:  # one tenant's schedule or rows never stop the others
                error = _tenant_error(record.id, exc)
                if self._reported.get(record.id) != str(error):
                    self._reported[record.id] = str(error)
                    reports.append(TenantRun(record.id, error=error))
                continue
            if when > now:
                continue
            if record.paused:
                mark = f"paused {record.paused_at}"
                if self._reported.get(record.id) != mark:
                    self._reported[record.id] = mark
                    reports.append(TenantRun(record.id, paused_reason=record.paused_reason))
                continue
            self._reported.pop(record.id, None)
            with self._guard:
                self._attempted[record.id] = when
            due.append(record)
        return due, reports

    def next_wakeup(self, now: datetime) -> datetime:
        """When to look again: the earliest next run among idle tenants, at most ``max_idle_s`` away."""
        soonest = now + timedelta(seconds=self.max_idle_s)
        for record in self.runtime.store.list_tenants():
            with self._guard:
                busy = record.id in self._running
            if record.paused or busy:
                continue
            try:
                soonest = min(soonest, self.next_due(record))
            except Exception:  # noqa: S112 (``due`` reports it; the others still wake the loop)
                continue
        return max(now, soonest)

    # -- running ---------------------------------------------------------------------------------------------
    def run_tenant(self, tenant: str, slot: datetime | None = None) -> TenantRun:
        """Every trigger of one tenant in turn (one sink per tenant run); stops if the tenant gets paused.
        ``slot``: the scheduled time this run is for (a trigger another process already ran for it is left).

        Never raises: a bug in one tenant's run is logged with its traceback and reported as that tenant's
        error, so the other tenants go on.
        """
        report = TenantRun(tenant)
        try:
            self._run_triggers(report, slot)
        except Exception as exc:
            log.exception("tenant %s: the run failed unexpectedly", tenant, extra={"tenant": tenant})
            report.error = ConnectorError(
                f"the run failed unexpectedly ({type(exc).__name__})",
                tenant=tenant,
                hint="see the log for the traceback and report it; the cursor stayed at the last delivery",
            )
        finally:
            with self._guard:
                self._running.discard(tenant)
        self._report(report)
        return report

    def _run_triggers(self, report: TenantRun, slot: datetime | None) -> None:
        tenant = report.tenant
        try:
            sink = self.sink_factory()
        except ConnectorError as exc:  # e.g. a plugin sink's configuration: its own message and fix
            report.error = exc.with_tenant(tenant)
            return
        try:
            for name in self.triggers:
                try:
                    spec = self.runtime.catalog.trigger(name)
                    result = run_tenant_trigger(self.runtime, tenant, spec, sink, slot=slot)
                except ConnectorError as exc:
                    report.error = exc.with_tenant(tenant)
                    return
                if result.ran_elsewhere:
                    log.info(
                        "%s of tenant %s: the %s slot was run by another process; not again",
                        name,
                        tenant,
                        slot.isoformat() if slot is not None else "",
                        extra={"tenant": tenant, "trigger": name},
                    )
                    continue
                report.results.append(result)
                if result.skipped:
                    report.paused_reason = self.runtime.store.require_tenant(tenant).paused_reason or "paused"
                    return
                if result.error is not None and report.error is None:
                    report.error = result.error
                if result.paused:  # paused by this run: ``serve --json`` says why, as for one paused before
                    report.paused_reason = result.error.message if result.error else "paused"
                    return
        finally:
            sink.close()

    def _report(self, report: TenantRun) -> None:
        if report.paused:
            reason = report.paused_reason or "paused"
            log.warning(
                "tenant %s is paused (%s); run `fortnox-connector connect %s` to reconnect and resume it",
                report.tenant,
                reason,
                report.tenant,
                extra={"tenant": report.tenant},
            )
        elif report.error is not None:
            log.error("%s", report.error, extra={"tenant": report.tenant})
        if self.on_result is not None:
            self.on_result(report)

    def _submit(
        self, pool: ThreadPoolExecutor, records: Sequence[TenantRecord], *, scheduled: bool = False
    ) -> list[Future[TenantRun]]:
        """Start each tenant's run; ``scheduled``: for the slot ``due`` found (else: now, unconditionally)."""
        futures = []
        for record in records:
            with self._guard:
                if record.id in self._running:
                    continue
                self._running.add(record.id)
                slot = self._attempted.get(record.id) if scheduled else None
            futures.append(pool.submit(self.run_tenant, record.id, slot))
        return futures

    def run_due(self, now: datetime | None = None) -> list[TenantRun]:
        """Run every tenant due at ``now`` concurrently; wait for them; return every report (skips too)."""
        due, reports = self.due(now)
        for report in reports:
            self._report(report)
        return reports + self._run_all_of(due, scheduled=True)

    def run_all(self) -> list[TenantRun]:
        """Run every tenant now, whatever its schedule (``serve --once``); paused ones are reported."""
        runnable: list[TenantRecord] = []
        reports: list[TenantRun] = []
        for record in self.runtime.store.list_tenants():
            if record.paused:
                report = TenantRun(record.id, paused_reason=record.paused_reason)
                self._report(report)
                reports.append(report)
            else:
                runnable.append(record)
        return reports + self._run_all_of(runnable)

    def _run_all_of(self, records: Sequence[TenantRecord], *, scheduled: bool = False) -> list[TenantRun]:
        if not records:
            return []
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="tenant") as pool:
            futures = self._submit(pool, records, scheduled=scheduled)
            return [f.result() for f in futures]

    def serve(self, wait: Wait) -> None:
        """Run tenants as they fall due until ``wait`` says stop (``stop_event.wait`` in real use)."""
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="tenant") as pool:
            while True:
                now = self.clock()
                due, reports = self.due(now)
                for report in reports:
                    self._report(report)
                self._submit(pool, due, scheduled=True)
                seconds = (self.next_wakeup(self.clock()) - self.clock()).total_seconds()
                if wait(max(seconds, 0.0)):
                    break
