"""export_paid_invoice SIGKILLed after each of its steps in turn: the rerun completes with one of each.

A real interpreter (``tests/actions/export_worker.py``) runs the action with SQLite state against the
sandbox and kills itself with SIGKILL the moment the answer to the chosen request arrives: Fortnox has done
the step, the process never learns it. A second process with the same state file and input finishes the
job. Then the ``invoice_paid`` trigger announces the invoice under its usual dedup key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.context import TenantContext
from fortnox_connector.runtime.store import SqliteStore
from fortnox_connector.sandbox import Sandbox
from tests.actions.test_end_to_end import drain, later
from tests.actions.test_export_paid_invoice import paid

ROOT = Path(__file__).resolve().parents[2]
STEPS = [
    "POST /3/customers",  # the customer is created
    "POST /3/invoices",  # the invoice is created
    "PUT /3/invoices/",  # the invoice is booked
    "POST /3/invoicepayments",  # the first payment is registered
    "PUT /3/invoicepayments/",  # the first payment is booked
]


def run_worker(sandbox: Sandbox, tenant: int, db: Path, key: str, kill_after: str | None) -> Any:
    args = {
        "base_url": sandbox.base_url,
        "token": str(sandbox.issue_token(tenant)["access_token"]),
        "tenant": str(tenant),
        "db": str(db),
        "key": key,
        "input": paid(),
        "kill_after": kill_after,
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    return subprocess.run(  # noqa: S603 - our own interpreter and worker module
        [sys.executable, "-m", "tests.actions.export_worker", json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("step", STEPS)
def test_killed_after_a_step_the_rerun_completes_with_one_customer_invoice_and_payment_each(
    step: str, ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, tmp_path: Path
) -> None:
    _, cursor = drain(ctx, None)  # the trigger's first run: whatever the seed holds
    db, key = tmp_path / "state.db", Fernet.generate_key().decode()
    SqliteStore(db, key.encode()).close()

    killed = run_worker(sandbox, sandbox_tenant, db, key, kill_after=step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    done = run_worker(sandbox, sandbox_tenant, db, key, kill_after=None)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])["out"]

    customers = [c for c in sandbox.customers(sandbox_tenant) if c["ExternalReference"] == "sf-cust-9"]
    invoices = [i for i in sandbox.invoices(sandbox_tenant) if i["ExternalInvoiceReference1"] == "SF-2001"]
    assert len(customers) == 1 and len(invoices) == 1
    [invoice] = invoices
    number = invoice["DocumentNumber"]
    payments = [p for p in sandbox.payments(sandbox_tenant) if str(p["InvoiceNumber"]) == number]
    assert sorted(str(p["AmountCurrency"]) for p in payments) == ["100", "25"]  # the two, once each
    assert all(p["Booked"] for p in payments) and invoice["Booked"] is True and invoice["Balance"] == 0
    assert out["invoice"]["document_number"] == number and out["fully_paid"] is True
    assert out["customer"]["customer_number"] == customers[0]["CustomerNumber"]

    events, _ = drain(later(ctx, sandbox, 5), cursor)
    [event] = [e for e in events if e.payload["document_number"] == number]
    assert event.dedup_key == f"fortnox:{sandbox_tenant}:invoice:{number}:paid"
