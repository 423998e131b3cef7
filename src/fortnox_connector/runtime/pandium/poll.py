"""Normal mode's loop over the triggers: one shared deadline, an optional event budget, the shared poll loop.

- The deadline (a ``clock()`` value, counted from the start of the run) is shared out: each trigger may use
  an equal part of the time left when it starts, so a long backfill of the first cannot starve the second,
  and time one leaves over goes to the next.
- The event budget (``FORTNOX_PANDIUM_MAX_EVENTS``, and ``max_printed_bytes`` of events when they are
  printed) bounds the run: once it is spent, no trigger starts another poll (a soft cap: the poll in
  progress finishes, so a run may pass it by one page).
- Each trigger runs through ``runtime.runner.run_trigger`` (deliver, then commit). The budget reaches it
  through the loop's clock, which reads as "deadline passed" once the budget is spent.
- After an authentication failure the remaining triggers are not polled: the token is dead for all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fortnox_connector.contract.connector import BoundTrigger
from fortnox_connector.errors import AuthError
from fortnox_connector.runtime.pandium.output import TriggerReport
from fortnox_connector.runtime.runner import run_trigger


def poll_triggers(
    specs: Sequence[BoundTrigger[Any]],
    reports: Sequence[TriggerReport],
    *,
    deadline: float,
    max_events: int | None,
    clock: Callable[[], float],
    log: logging.LoggerAdapter[logging.Logger],
    max_printed_bytes: int | None = None,
) -> None:
    share = deadline

    def over_budget() -> bool:
        if max_events is not None and sum(r.delivered for r in reports) >= max_events:
            return True
        return max_printed_bytes is not None and sum(r.printed_bytes for r in reports) >= max_printed_bytes

    def loop_clock() -> float:
        now = clock()
        if over_budget():
            return max(now, share)
        return now

    auth_failed = False
    for index, (spec, report) in enumerate(zip(specs, reports, strict=True)):
        if auth_failed:
            report.skipped = "Fortnox refused the token earlier in this run"
            log.warning("%s not polled: %s", spec.name, report.skipped)
            continue
        started = clock()
        share = started + max(0.0, deadline - started) / (len(specs) - index)
        outcome = run_trigger(
            spec,
            cursor=report.cursor,
            deliver=report.deliver,
            commit=report.commit,
            deadline=share,
            clock=loop_clock,
        )
        report.summary = outcome.summary
        report.summary.duration_s = clock() - started  # the loop clock may have jumped to the deadline
        report.complete = outcome.complete
        report.error = outcome.error
        if outcome.stopped_by_deadline:
            budget_spent = over_budget()
            report.stopped_by_budget = budget_spent
            report.stopped_by_deadline = not budget_spent
        _log_outcome(report, log)
        auth_failed = isinstance(outcome.error, AuthError)


def _log_outcome(report: TriggerReport, log: logging.LoggerAdapter[logging.Logger]) -> None:
    """One line per trigger with the run summary in the message and, for JSON logs, as fields."""
    s = report.summary
    counts = (
        f"{report.delivered} events ({s.skipped} skipped), {s.pages} pages, {s.requests} requests, "
        f"{s.duration_s:.2f} s"
    )
    fields = {"trigger": report.trigger, **report.to_json()["summary"]}
    if report.error is not None:
        log.error("%s failed after %s: %s", report.trigger, counts, report.error, extra=fields)
    elif report.stopped_by_deadline or report.stopped_by_budget:
        why = "the deadline" if report.stopped_by_deadline else "the run's event budget"
        log.warning(
            "%s stopped at %s after %s; the next run continues from its cursor",
            report.trigger,
            why,
            counts,
            extra=fields,
        )
    else:
        log.info("%s delivered %s", report.trigger, counts, extra=fields)
