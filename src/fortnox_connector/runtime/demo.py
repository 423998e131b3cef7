"""``fortnox-connector demo``: the whole connector in one command, with no configuration.

It starts the Fortnox sandbox on loopback (rate limit on, as Fortnox has it), keeps its state in a
temporary directory, connects a demo tenant through the real OAuth flow (a scripted browser approves the
sandbox's consent page; the redirect comes back to the loopback listener; the code is exchanged), backfills
both triggers with a progress bar, registers a payment that pays an invoice in full with the
``register_payment`` action, runs ``invoice_paid`` again to show the event that payment caused, and prints
a summary. Nothing outside 127.0.0.1 is contacted.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.json import JSON
from rich.panel import Panel
from rich.table import Table

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConnectorError
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.browser import approve
from fortnox_connector.runtime.connect import connect
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import JobResult, run_tenant_trigger
from fortnox_connector.runtime.report import job_json, jobs_table, trigger_progress
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.sinks.encoding import event_to_dict, event_to_json
from fortnox_connector.secrets import Secret

DEMO_TENANT = "demo"
EXTRA_PAYMENTS = 1200  # enough for a few pages of 500: the progress bar has something to show


class MemorySink:
    """Keeps delivered events in memory (the demo shows them); thread-safe."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def deliver(self, events: Sequence[Event]) -> None:
        with self._lock:
            self.events.extend(events)

    def close(self) -> None:
        return None


def _unpaid_invoice(runtime: Runtime) -> Any:
    """An open SEK debit invoice with money left to pay (the sandbox seeds several)."""
    with runtime.context(DEMO_TENANT) as ctx:
        page = ctx.client.list_invoices(filter="unpaid", limit=100)
        for inv in page.items:
            if inv.currency == "SEK" and not inv.credit and not inv.cancelled and inv.balance > 0:
                return inv
    raise ConnectorError("the sandbox has no unpaid SEK invoice", tenant=DEMO_TENANT, hint="report this bug")


def run_demo(
    console: Console,
    *,
    quiet: bool = False,
    extra_payments: int = EXTRA_PAYMENTS,
    rate_limit: bool = True,
) -> dict[str, Any]:
    """Run the demo; print it on ``console`` unless ``quiet``; return its summary as JSON-ready data."""
    from fortnox_connector.sandbox import Sandbox, SandboxOptions  # a development tool: imported on use

    started = time.monotonic()
    say = (lambda *_a, **_k: None) if quiet else console.print
    options = SandboxOptions(seed=7, tenants=1, rate_limit=rate_limit)
    with (
        tempfile.TemporaryDirectory(prefix="fortnox-connector-demo-") as home,
        Sandbox.start(options, host="127.0.0.1", port=0) as sandbox,
    ):
        company = sandbox.tenant_ids()[0]
        sandbox.seed_payments(company, extra_payments)
        say(f"[bold]1.[/] Fortnox sandbox on {sandbox.base_url} (rate limit {'on' if rate_limit else 'off'})")
        settings = RuntimeSettings(
            home=Path(home),
            client_id=sandbox.client_id,
            client_secret=Secret(sandbox.client_secret),
            api_url=sandbox.base_url,
            auth_url=sandbox.base_url,
        )
        with Runtime.open(settings) as runtime:
            runtime.pacers = PacerRegistry()  # a fresh sandbox: no rate window carried over from before
            runtime.store.add_tenant(DEMO_TENANT, display_name="Demo AB", auth_mode="authorization_code")
            runtime.store.save_config(DEMO_TENANT, {"emit_unbooked_payments": True})
            connected = connect(
                runtime, DEMO_TENANT, open_url=lambda url: approve(url, company=company), timeout=30
            )
            say(
                f"[bold]2.[/] Connected tenant [cyan]{DEMO_TENANT}[/] to {connected.company} "
                f"(Fortnox {connected.fortnox_tenant_id}) through OAuth: consent page → loopback redirect → "
                "code exchange"
            )
            sink = MemorySink()
            results: list[JobResult] = []

            def run(trigger: str, label: str) -> JobResult:
                spec = runtime.catalog.trigger(trigger)
                if quiet:
                    result = run_tenant_trigger(runtime, DEMO_TENANT, spec, sink)
                else:
                    with trigger_progress(console, label) as progress:
                        result = run_tenant_trigger(runtime, DEMO_TENANT, spec, sink, progress=progress)
                if result.error is not None:
                    raise result.error
                results.append(result)
                return result

            say("[bold]3.[/] Backfill (the last 30 days):")
            run("payment_received", "payment_received")
            run("invoice_paid", "invoice_paid")
            invoice = _unpaid_invoice(runtime)
            payment_input = {
                "invoice": {"document_number": invoice.document_number},
                "amount": str(invoice.balance),
                "currency": invoice.currency,
                "payment_date": sandbox.now().date().isoformat(),
                "mode_of_payment": "BG",
                "mode_of_payment_account": 1930,
                "idempotency_key": f"demo-{invoice.document_number}",
            }
            with runtime.session(DEMO_TENANT) as session:
                registered = dict(session.action("register_payment").run(payment_input))
            say(
                f"[bold]4.[/] register_payment: payment {registered['payment_number']} of "
                f"{registered['amount']} SEK on invoice {registered['invoice_number']} "
                f"(balance after: {registered['invoice_balance_after']})"
            )
            before = len(sink.events)
            say("[bold]5.[/] invoice_paid again:")
            again = run("invoice_paid", "invoice_paid (after the payment)")
            new = [e for e in sink.events[before:] if e.trigger == "invoice_paid"]
            paid = [e for e in new if str(e.payload.get("document_number")) == str(invoice.document_number)]
            if not paid:
                raise ConnectorError(
                    f"no invoice_paid event for invoice {invoice.document_number}",
                    tenant=DEMO_TENANT,
                    hint="report this bug with the demo's output",
                )
            if not quiet:
                console.print(Panel(JSON(event_to_json(paid[0])), title="the resulting invoice_paid event"))
            stats = sandbox.stats
            summary = {
                "tenant": DEMO_TENANT,
                "company": connected.company,
                "fortnox_tenant_id": connected.fortnox_tenant_id,
                "runs": [job_json(r) for r in results],
                "payment": registered,
                "invoice_paid_event": event_to_dict(paid[0]),
                "events_delivered": len(sink.events),
                "new_invoice_paid_events": len(new),
                "sandbox_requests": stats.requests,
                "sandbox_rate_limited": stats.rate_limited,
                "seconds": round(time.monotonic() - started, 2),
            }
            if not quiet:
                console.print(jobs_table(results, title=f"runs of tenant {DEMO_TENANT}", tenant=False))
                console.print(_summary_table(summary, again, Decimal(str(registered["amount"]))))
            return summary


def _summary_table(summary: dict[str, Any], again: JobResult, amount: Decimal) -> Table:
    table = Table(show_header=False, title="demo summary")
    table.add_row("tenant", f"{summary['tenant']} → {summary['company']} ({summary['fortnox_tenant_id']})")
    table.add_row("events delivered", str(summary["events_delivered"]))
    table.add_row("payment registered", f"{amount} SEK, invoice {summary['payment']['invoice_number']}")
    table.add_row("invoice_paid after it", f"{again.summary.events} event(s)")
    table.add_row(
        "Fortnox requests", f"{summary['sandbox_requests']} ({summary['sandbox_rate_limited']} rate-limited)"
    )
    table.add_row("time", f"{summary['seconds']} s")
    return table
