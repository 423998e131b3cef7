"""The demo runs to its summary: OAuth on the sandbox, both triggers, a payment, the event it causes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from rich.console import Console

from fortnox_connector.runtime.cli import App, cli
from fortnox_connector.runtime.demo import run_demo

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])


def test_demo_command_prints_the_event_and_the_summary() -> None:
    result = CliRunner().invoke(cli, ["demo"], obj=App(configure_logs=False), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Connected tenant demo" in out
    assert "the resulting invoice_paid event" in out and '"trigger": "invoice_paid"' in out
    assert "demo summary" in out and "0 rate-limited" in out


def test_demo_summary_as_data() -> None:
    summary = run_demo(Console(file=None, quiet=True), quiet=True, extra_payments=600)
    assert [r["trigger"] for r in summary["runs"]] == ["payment_received", "invoice_paid", "invoice_paid"]
    backfill = summary["runs"][0]
    assert backfill["ok"] and backfill["pages"] == 2 and backfill["delivered"] == backfill["events"] > 600
    assert summary["new_invoice_paid_events"] == 1
    event = summary["invoice_paid_event"]
    assert event["payload"]["document_number"] == summary["payment"]["invoice_number"]
    assert event["payload"]["balance"] == "0.00"
    assert summary["payment"]["invoice_balance_after"] == "0.00"
    assert summary["sandbox_rate_limited"] == 0
    json.dumps(summary)  # JSON-ready for `demo --json`
