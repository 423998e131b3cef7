"""``act TENANT export_invoice --input @invoices.jsonl``: a batch, its summary, and resuming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fortnox_connector.sandbox import Sandbox
from tests.runtime import test_cli
from tests.runtime.test_cli import Invoke

app = test_cli.app  # the CLI fixtures: an App on the sandbox, and invoke(*args, code=0)
invoke = test_cli.invoke

ROWS = [{"description": "Plan", "quantity": "1", "price": "100.00", "vat": "25"}]


def line(n: int, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": f"batch-{n}",
        "source_invoice_number": f"B-{n}",
        "customer": {"customer_number": "1"},
        "invoice_date": "2026-03-01",
        "currency": "EUR",
        "rows": ROWS,
        "total": "125.00",
    }
    data.update(extra)
    return data


def results(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]


def ours(sandbox: Sandbox) -> list[str]:
    company = sandbox.tenant_ids()[0]
    return [
        i["ExternalInvoiceReference1"] for i in sandbox.invoices(company) if i["ExternalInvoiceReference1"]
    ]


def test_a_batch_exports_each_line_reports_failures_and_resumes_without_doubling(
    invoke: Invoke, sandbox: Sandbox, tmp_path: Path
) -> None:
    invoke("connect", "acme")
    path = tmp_path / "invoices.jsonl"
    lines = [line(1), line(2, customer={"customer_number": "999"}), line(3)]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")

    first = invoke("act", "acme", "export_invoice", "--input", f"@{path}", "--no-progress", code=1)
    out = results(first.stdout)
    assert [(r["line"], r["ok"]) for r in out] == [(1, True), (2, False), (3, True)]
    assert "no customer 999" in out[1]["error"] and out[1]["hint"]
    assert sorted(ours(sandbox)) == ["B-1", "B-3"]
    assert "created" in first.stderr and "failed" in first.stderr  # the summary table

    lines[1] = line(2, customer={"customer_number": "2"}, idempotency_key="batch-2-fixed")
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    again = invoke("act", "acme", "export_invoice", "--input", f"@{path}", "--no-progress")
    out = results(again.stdout)
    assert [r["output"]["idempotent_replay"] for r in out] == [True, False, True]
    assert sorted(ours(sandbox)) == ["B-1", "B-2", "B-3"]


def test_a_line_that_is_not_json_is_named_before_anything_runs(
    invoke: Invoke, sandbox: Sandbox, tmp_path: Path
) -> None:
    invoke("connect", "acme")
    path = tmp_path / "invoices.jsonl"
    path.write_text(json.dumps(line(1)) + "\n{oops\n")
    bad = invoke("act", "acme", "export_invoice", "--input", f"@{path}", code=1)
    assert "line 2" in bad.stderr and ours(sandbox) == []


def test_a_batch_with_its_progress_bar_ends_with_the_summary(
    invoke: Invoke, sandbox: Sandbox, tmp_path: Path
) -> None:
    invoke("connect", "acme")
    path = tmp_path / "invoices.jsonl"
    path.write_text("\n".join(json.dumps(line(n)) for n in range(1, 4)) + "\n")
    done = invoke("act", "acme", "export_invoice", "--input", f"@{path}")
    assert [r["ok"] for r in results(done.stdout)] == [True, True, True]
    assert "acme export_invoice" in done.stderr and "requests" in done.stderr
