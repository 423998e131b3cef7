"""One Pandium run, start to finish: read the environment, run the mode, print one JSON document, exit.

- stdout carries exactly one JSON document (``output``); while the run works, ``sys.stdout`` is pointed at
  stderr, so a stray ``print`` in any library cannot corrupt it. Logs go to stderr (``runtime.logs``).
- ``normal`` and ``webhook`` first run the actions that webhook and API triggers carry (``actions``:
  signature checked, input validated, once per idempotency key, a result per item), then poll every
  trigger through the shared loop (``runtime.runner.run_trigger``) under one deadline, shared out so a
  long backfill of the first trigger cannot starve the second. A ``webhook`` run polls only when a cron or
  manual trigger is in its bundle. Events go to the tenant's webhook sink, or into stdout when the tenant
  chose ``event_delivery=stdout`` (bounded).
- ``init`` reports the options a tenant picks from and carries the committed cursors forward unchanged
  (the init run's stdout becomes the last successful one, so dropping them would restart the backfill).
- Exit codes: 0 done or stopped by the deadline with partial state (a successful run: Pandium feeds its
  stdout to the next run; refused action items are results, not errors); 1 a run error or an action item
  that failed (message on stderr; the JSON is still printed when a trigger committed something or an
  action ran, so cursors and idempotency records are not lost); 2 a configuration problem found before
  any work (nothing printed, nothing changed).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from fortnox_connector import __version__
from fortnox_connector.auth.injected import InjectedToken, parse_injected_token
from fortnox_connector.auth.oauth import Clock, utc_now
from fortnox_connector.contract.connector import BoundTrigger, Connector, Session
from fortnox_connector.contract.records import EventSink, TenantSpec, TriggerSpec
from fortnox_connector.contract.state import MemoryStateStore, StateStore
from fortnox_connector.declaration.config import config_to_json
from fortnox_connector.errors import ConfigError, ConnectorError
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.catalog import load_catalog
from fortnox_connector.runtime.logs import (
    configure_logging,
    register_secret,
    set_default_tenant,
    tenant_logger,
)
from fortnox_connector.runtime.pandium.actions import (
    ActionLookup,
    ActionReport,
    ActionRunner,
    manager_actions,
)
from fortnox_connector.runtime.pandium.config import tenant_config
from fortnox_connector.runtime.pandium.discover import discover_options
from fortnox_connector.runtime.pandium.ledger import KEY as LEDGER_KEY
from fortnox_connector.runtime.pandium.ledger import LedgerStore, ledger_json, load_ledger
from fortnox_connector.runtime.pandium.options import PandiumOptions, require_sink, split_options
from fortnox_connector.runtime.pandium.output import TriggerReport, build_document, write_document
from fortnox_connector.runtime.pandium.poll import poll_triggers
from fortnox_connector.runtime.pandium.run_triggers import RunTrigger, read_run_triggers
from fortnox_connector.runtime.pandium.settings import PandiumSettings
from fortnox_connector.runtime.pandium.signatures import (
    INBOUND_SECRET_ENV,
    Verdict,
    check_signature,
    inbound_verifier,
)
from fortnox_connector.runtime.pandium.state import PreviousState, load_previous_state
from fortnox_connector.runtime.pandium.triggers import TRIGGER_NAMES, default_triggers
from fortnox_connector.runtime.sinks import make_sink
from fortnox_connector.secrets import Secret

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

LOGGER = "fortnox_connector.pandium"


@dataclass(frozen=True, slots=True)
class Overrides:
    """What tests (and embedders) may replace; a real run uses the defaults."""

    triggers: Sequence[TriggerSpec[Any]] | None = None
    clock: Callable[[], float] = time.monotonic  # the deadline's clock
    now: Clock = utc_now  # wall time: token expiry, timestamps
    pacers: PacerRegistry | None = None
    transport: httpx.BaseTransport | None = None
    actions: ActionLookup | None = None  # default: the actions the loaded connectors declare


def main(env: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> int:
    """``fortnox-connector pandium``: one run as Pandium starts it. Returns the exit code."""
    return run(env, stdout=stdout, stderr=stderr)


def run(env: Mapping[str, str], *, stdout: TextIO, stderr: TextIO, overrides: Overrides | None = None) -> int:
    over = overrides or Overrides()
    try:
        settings = PandiumSettings.from_env(env)
    except ConfigError as exc:
        configure_logging(stream=stderr)
        tenant_logger(exc.tenant, LOGGER).error("cannot start the Pandium run: %s", exc)
        return EXIT_CONFIG
    configure_logging(json=settings.log_json, level=settings.log_level, stream=stderr)
    previous = set_default_tenant(settings.tenant)  # one tenant per process: httpx's lines name it too
    try:
        with contextlib.redirect_stdout(stderr):
            return _Run(env, settings, over).execute(stdout)
    finally:
        set_default_tenant(previous)


@dataclass
class _Run:
    env: Mapping[str, str]
    settings: PandiumSettings
    over: Overrides
    reports: list[TriggerReport] = field(default_factory=list)
    previous: PreviousState = field(default_factory=PreviousState)
    options: dict[str, Any] | None = None
    status: str = "failed"
    run_triggers: list[RunTrigger] = field(default_factory=list)
    polls: bool = True
    actions: ActionReport | None = None
    ledger: LedgerStore | None = None

    def __post_init__(self) -> None:
        self.log = tenant_logger(self.settings.tenant, LOGGER)
        self.started_at = self.over.now()
        self.deadline = self.over.clock() + self.settings.deadline_s  # counted from the start of the run

    def execute(self, stdout: TextIO) -> int:
        mode = self.settings.run_mode
        self.log.info(
            "Pandium %s run of tenant %s%s (fortnox-connector %s)",
            mode,
            self.settings.tenant,
            f" ({self.settings.tenant_name})" if self.settings.tenant_name else "",
            __version__,
        )
        try:
            code = self._init() if mode == "init" else self._sync()
        except ConfigError as exc:
            self.log.error("the run cannot start: %s", exc)
            return EXIT_CONFIG
        except ConnectorError as exc:
            self.log.error("the run failed: %s", exc)
            code = EXIT_FAILED
        except Exception:
            self.log.exception("the run failed on an unexpected error (a bug: please report it)")
            code = EXIT_FAILED
        if code == EXIT_OK or any(r.committed for r in self.reports) or self.actions is not None:
            write_document(stdout, self._document())
            self.log.info("printed the run's state (status %s) on stdout", self.status)
        else:
            self.log.error("nothing was committed: no state printed; the next run starts where this one did")
        return code

    # -- modes -------------------------------------------------------------------------------
    def _prepare(self) -> tuple[InjectedToken, list[TriggerSpec[Any]]]:
        tenant = self.settings.tenant
        injected = parse_injected_token(self.env, tenant=tenant, now=self.over.now)
        register_secret(injected.token.access_token)
        mode = self.settings.run_mode
        if mode != "init":
            self.run_triggers = read_run_triggers(self.env, tenant=tenant)
        self.polls = mode == "normal" or any(t.kind == "poll" for t in self.run_triggers)
        if self.over.triggers is not None:
            specs = list(self.over.triggers)
            names = [s.name for s in specs]
        elif not self.polls:
            specs = []  # init (and a webhook run without a cron) polls nothing: it carries cursors forward
            names = list(TRIGGER_NAMES)
        else:
            specs = default_triggers(tenant)
            names = [s.name for s in specs]
        if not self.polls:
            specs = []
        self.previous = load_previous_state(self.env, tenant=tenant, trigger_names=names)
        self.reports = [TriggerReport(name, self.previous.cursor(name, tenant=tenant)) for name in names]
        if self.previous.source:
            self.log.info("resuming from the state in %s", self.previous.source)
        return injected, specs

    @contextlib.contextmanager
    def _session(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        state: StateStore | None = None,
        logger: str = "fortnox_connector.triggers",
    ) -> Iterator[Session[Any]]:
        """The connector opened for the tenant, as any host opens it: secrets by the manifest's names."""
        tenant = self.settings.tenant
        connector: Connector[Any] = load_catalog().connector
        decl = connector.declaration
        secrets = {s.name: self.env[s.env] for s in decl.secrets_for("host_managed") if self.env.get(s.env)}
        spec = TenantSpec(
            id=tenant,
            config=config or {},
            secrets=secrets,
            state=state if state is not None else MemoryStateStore(),
            clock=self.over.now,
            log=tenant_logger(tenant, logger),
            auth_mode="host_managed",
            endpoints={"api": self.settings.base_url},
            transport=self.over.transport,
            extras={"pacers": self.over.pacers} if self.over.pacers is not None else {},
        )
        with connector.open(spec) as session:
            yield session

    def _init(self) -> int:
        self._prepare()
        for report in self.reports:
            report.skipped = "init run: triggers are polled in normal runs"
        with self._session() as session:
            self.options = discover_options(session.context.client)
        self.log.info(
            "found %d modes of payment for %s",
            len(self.options["modes_of_payment"]),
            self.options["options"]["company"]["name"] or "the company",
        )
        self.status = "init"
        return EXIT_OK

    def _sync(self) -> int:
        """A normal or webhook run: the triggers' actions first, then the polls (when this run polls)."""
        _, specs = self._prepare()
        tenant = self.settings.tenant
        options, config_strings = split_options(self.settings.config, tenant=tenant)
        config = config_to_json(tenant_config(config_strings, tenant=tenant))
        sink = self._sink(options) if specs else None
        carries_actions = any(t.kind == "actions" or t.refusal for t in self.run_triggers)
        check = self._signature_check(options) if carries_actions else None
        self.ledger = load_ledger(self.previous.document, tenant=tenant, now=self.over.now)
        if not specs:
            for report in self.reports:
                report.skipped = f"a {self.settings.run_mode} run without a cron or manual trigger"
        try:
            with self._session(config, state=self.ledger, logger="fortnox_connector.actions") as session:
                ctx = session.context
                if check is not None:
                    self.actions = ActionRunner(
                        ctx,
                        self.over.actions or manager_actions(),
                        check,
                        self.log,
                        past_deadline=lambda: self.over.clock() >= self.deadline,
                        connector=session.connector.name,
                    ).run(self.run_triggers)
                if specs:
                    self._poll(ctx, specs, sink)
        finally:
            if sink is not None:
                sink.close()
        return self._outcome()

    def _poll(self, ctx: Any, specs: list[TriggerSpec[Any]], sink: EventSink | None) -> None:
        for report in self.reports:
            report.sink = sink
        poll_triggers(
            [BoundTrigger(spec, ctx, self.settings.tenant) for spec in specs],
            self.reports,
            deadline=self.deadline,
            max_events=self.settings.max_events,
            clock=self.over.clock,
            log=self.log,
            max_printed_bytes=self.settings.stdout_max_bytes if sink is None else None,
        )

    def _outcome(self) -> int:
        """Exit 1 on a failure, unless this run saved idempotency records: they must be kept.

        Pandium passes on only a successful run's stdout, and the records are what stops a resent payment
        from being registered twice, so a run that wrote to Fortnox succeeds (``partial``) and reports its
        failures in the results and on stderr.
        """
        failed = any(r.error is not None for r in self.reports) or (
            self.actions is not None and self.actions.failed
        )
        if failed and self.ledger is not None and self.ledger.saved:
            self.log.error("the run had failures (see the results); it exits 0 to keep what it registered")
            self.status = "partial"
            return EXIT_OK
        if failed:
            self.status = "failed"
            return EXIT_FAILED
        self.status = "complete" if all(r.complete or r.skipped for r in self.reports) else "partial"
        return EXIT_OK

    def _sink(self, options: PandiumOptions) -> EventSink | None:
        """The tenant's webhook sink, or None when it chose to have events printed."""
        if options.event_delivery == "stdout":
            return None
        url, secret = require_sink(options, self.env, tenant=self.settings.tenant)
        register_secret(secret.reveal())
        self.log.info("events go to the webhook sink at %s", url.split("?", 1)[0])
        sink: EventSink = make_sink(
            "webhook",
            {
                "url": url,
                "secret": secret,
                "max_attempts": self.settings.sink_attempts,
                "batch": options.sink_batch,
            },
        )
        return sink

    def _signature_check(self, options: PandiumOptions) -> Callable[[RunTrigger], Verdict]:
        raw = self.env.get(INBOUND_SECRET_ENV, "").strip()
        secret = Secret(raw) if raw else None
        if secret is not None:
            register_secret(raw)
        verifier = inbound_verifier(secret, tenant=self.settings.tenant)

        def check(trigger: RunTrigger) -> Verdict:
            return check_signature(
                trigger.body or b"",
                trigger.headers,
                verifier,
                allow_unsigned=options.allow_unsigned_requests,
                now=self.over.now(),
                tolerance_s=self.settings.signature_tolerance_s,
            )

        return check

    # -- output ------------------------------------------------------------------------------
    def _document(self) -> dict[str, Any]:
        own = [r.trigger for r in self.reports] + ["run", "actions"]
        if self.ledger is not None:
            own.append(LEDGER_KEY)
        kept = self.previous.kept_keys(own)
        if self.options is not None:
            kept.update(self.options)
        if self.actions is not None:
            kept["actions"] = self.actions.to_json()
        if self.ledger is not None:
            records = ledger_json(self.ledger, tenant=self.settings.tenant)
            if records["records"] or LEDGER_KEY in self.previous.document:
                kept[LEDGER_KEY] = records
        run = {
            "mode": self.settings.run_mode,
            "status": self.status,
            "tenant": self.settings.tenant,
            "tenant_name": self.settings.tenant_name,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.over.now().isoformat(),
            "deadline_s": self.settings.deadline_s,
            "connector_version": __version__,
        }
        return build_document(self.reports, kept=kept, run=run)
