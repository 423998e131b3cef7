"""One poll = one page of a ``lastmodified`` list; the cursor says which run and which page.

The host delivers and commits page by page (``runtime.runner``), so a crash loses at most the page in hand,
which the uncommitted cursor fetches again. A run:

1. starts when the cursor has no run in progress: ``started`` = ``ctx.now()`` before the first request;
   ``since`` is the cursor's (the first run: ``backfill_days`` back, ``window.backfill_since``);
2. fetches page 1, 2, … with the same ``since`` (``more`` is true until the last page);
3. ends on the last page: the next run's ``since`` = ``started`` minus the overlap (``window.next_since``).

Why a shrinking ``@TotalResources`` restarts the run's paging at page 1: records never leave a
``lastmodified`` list except when deleted (an unbooked payment, or an invoice no longer fully paid), and a
deletion shifts every later record one place towards the pages already read; paging on would skip them.
Re-reading is safe: numbers already emitted are dropped (``seen``) and keys are stable. A growing total
(records changed during the run) needs nothing: they shift towards later pages, and, changed after
``started``, they are inside the next run's window anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, PollResult, RunSummary
from fortnox_connector.errors import ConnectorError
from fortnox_connector.fortnox.records import Page
from fortnox_connector.triggers import window
from fortnox_connector.triggers.cursor import Cursor, Run, decode, encode

T = TypeVar("T")
Fetch = Callable[[datetime, int], Page[T]]  # (since, page number) -> one page


@dataclass(slots=True)
class Step(Generic[T]):
    """A fetched page and the cursor that comes after it (its ``seen`` still to be updated by the caller)."""

    page: Page[T]
    cursor: Cursor
    more: bool
    restarted: bool
    observed_at: datetime


def load(ctx: TenantContext, text: str | None, trigger: str, now: datetime) -> Cursor:
    """The stored cursor, or a fresh one whose run starts ``backfill_days`` back."""
    if text is not None:
        return decode(text, tenant=ctx.tenant, trigger=trigger)
    return Cursor(trigger=trigger, since=window.backfill_since(now, ctx.config.backfill_days))


def fetch_step(ctx: TenantContext, text: str | None, trigger: str, fetch: Fetch[T]) -> Step[T]:
    """Fetch the page the cursor points at and work out the cursor after it."""
    now = ctx.now()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ConnectorError(
            f"{trigger}: the host's clock (ctx.now) gave a naive date-time, so no window can be computed",
            tenant=ctx.tenant,
            hint="give TenantContext a now() returning aware datetimes, e.g. lambda: datetime.now(UTC)",
        )
    cursor = load(ctx, text, trigger, now)
    run = cursor.run
    if run is None:
        run = Run(started=now)
        _warn_short_overlap(ctx, trigger)
    page = fetch(cursor.since, run.page)
    restarted = run.total is not None and page.total_resources < run.total
    if restarted:
        ctx.log.warning(
            "%s: the list shrank from %d to %d records while paging (a record was deleted); "
            "reading again from page 1 so nothing is skipped",
            trigger,
            run.total,
            page.total_resources,
            extra={"tenant": ctx.tenant},
        )
        cursor.run = Run(started=run.started, page=1, total=page.total_resources)
        more = True
    elif page.last or run.page >= page.total_pages:
        cursor.since = window.next_since(run.started, ctx.config.lastmodified_overlap_minutes)
        cursor.run = None
        more = False
    else:
        cursor.run = Run(started=run.started, page=run.page + 1, total=page.total_resources)
        more = True
    return Step(page=page, cursor=cursor, more=more, restarted=restarted, observed_at=now)


def _warn_short_overlap(ctx: TenantContext, trigger: str) -> None:
    configured = ctx.config.lastmodified_overlap_minutes
    if configured < window.MIN_OVERLAP_MINUTES:
        ctx.log.warning(
            "%s: lastmodified_overlap_minutes is %d, too short to cover a DST hour and clock skew; "
            "using %d (set it to %d or more to silence this)",
            trigger,
            configured,
            window.MIN_OVERLAP_MINUTES,
            window.MIN_OVERLAP_MINUTES,
            extra={"tenant": ctx.tenant},
        )


def result(
    step: Step[T],
    events: list[Event],
    *,
    skipped: int,
    requests: int,
    started: float,
    now: float,
    rate_limited: int = 0,
    retries: int = 0,
    vanished: int = 0,
) -> PollResult:
    """The poll's answer for one page: its events, the cursor after it (``seen`` already updated), a summary.

    ``started``/``now`` are ``time.perf_counter()`` readings around the poll; ``requests`` what it sent,
    ``rate_limited`` how many of those Fortnox answered 429 (operators watch it: someone else spends the
    tenant's budget when it is not 0), ``retries`` how many were not a first try.
    """
    summary = RunSummary(
        pages=1,
        requests=requests,
        rate_limited=rate_limited,
        retries=retries,
        events=len(events),
        skipped=skipped,
        duration_s=now - started,
        total_pages=step.page.total_pages,
        vanished=vanished,
    )
    return PollResult(events=events, cursor=encode(step.cursor), more=step.more, summary=summary)
