"""No silent drop: a booked payment listed but gone when fetched is reported, counted and announced."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.sandbox import Sandbox
from tests.triggers.support import Host, Recorder, make_client, make_ctx
from tests.triggers.test_reliability import LIST, seed_booked


def test_a_booked_payment_vanishing_between_list_and_fetch_is_reported(
    sandbox: Sandbox, sandbox_tenant: int, caplog: pytest.LogCaptureFixture
) -> None:
    booked = seed_booked(sandbox, sandbox_tenant, 5)
    gone = booked[-1]

    def thin_and_delete(request: httpx.Request, data: Any) -> Any:
        """Thin list items (each payment is fetched alone), and one booked payment deleted meanwhile."""
        if request.url.path == LIST:
            for item in data["InvoicePayments"]:
                item.pop("InvoiceOCR", None)
            with sandbox.store.lock:
                sandbox.store.tenant(sandbox_tenant).payments.pop(int(gone), None)
        return data

    with make_client(sandbox, sandbox_tenant, Recorder(rewrite=thin_and_delete)) as client:
        host = Host(make_ctx(sandbox, client, TenantConfig()))
        with caplog.at_level(logging.WARNING, logger="tests.triggers"):
            outcome = host.run()

    assert outcome.summary.vanished == 1
    [deleted] = [e for e in host.delivered if e.trigger == "payment_deleted"]
    assert deleted.dedup_key == f"fortnox:{sandbox_tenant}:payment:{gone}:deleted"
    assert deleted.payload["detected_by"] == "poll" and deleted.payload["invoice_number"]
    assert any(f"booked payment {gone} " in r.getMessage() for r in caplog.records)
    received = {str(e.payload["payment_number"]) for e in host.delivered if e.trigger == "payment_received"}
    assert received == set(booked) - {gone}
