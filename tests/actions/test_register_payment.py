"""register_payment against the sandbox over loopback, with a real FortnoxClient whose calls are logged."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from fortnox_connector.actions import get_invoice, register_payment
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox.errors import AmbiguousWrite, FortnoxUnavailable, MissingLicence, MissingScope
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import Recorder, make_client, make_ctx

DOC = 9001


def pay(doc: int | str = DOC, key: str = "k1", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "invoice": {"document_number": str(doc)},
        "amount": "400.00",
        "currency": "SEK",
        "payment_date": "2026-03-01",
        "idempotency_key": key,
    }
    data.update(extra)
    return data


def add(sandbox: Sandbox, tenant: int, **fields: Any) -> dict[str, Any]:
    fields.setdefault("DocumentNumber", DOC)
    fields.setdefault("Total", "1000.00")
    fields.setdefault("InvoiceDate", "2026-02-20")
    return sandbox.add_invoice(tenant, **fields)


def payments_of(sandbox: Sandbox, tenant: int, doc: int = DOC) -> list[dict[str, Any]]:
    return [p for p in sandbox.payments(tenant) if int(p["InvoiceNumber"]) == doc]


def test_sek_payment_is_posted_booked_and_exact(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    out = register_payment.run(ctx, pay(amount="400.10"))
    assert out["amount"] == out["amount_currency"] == "400.10"
    assert out["currency"] == "SEK" and out["currency_rate"] == "1"
    assert out["booked"] is True and out["idempotent_replay"] is False
    assert out["invoice_balance_after"] == "599.90"
    [stored] = payments_of(sandbox, sandbox_tenant)
    assert Decimal(str(stored["Amount"])) == Decimal("400.10")
    assert stored["Booked"] is True and stored["ModeOfPayment"] == "BG"
    assert int(stored["ModeOfPaymentAccount"]) == 1930
    assert str(stored["Number"]) == out["payment_number"]
    assert Decimal(str(sandbox.invoice(sandbox_tenant, DOC)["Balance"])) == Decimal("599.90")
    assert recorder.posts() == 1


def test_eur_payment_converts_to_sek_rounded_to_the_ore(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.4567")
    out = register_payment.run(ctx, pay(amount="123.45", currency="EUR"))
    # 123.45 x 11.4567 = 1414.329615 -> 1414.33
    assert out["amount"] == "1414.33" and out["amount_currency"] == "123.45"
    assert out["currency_rate"] == "11.4567" and out["invoice_balance_after"] == "876.55"
    [stored] = payments_of(sandbox, sandbox_tenant)
    assert Decimal(str(stored["Amount"])) == Decimal("1414.33")
    assert Decimal(str(stored["AmountCurrency"])) == Decimal("123.45")
    assert stored["Currency"] == "EUR"


def test_a_currency_quoted_per_100_units_divides_by_the_unit(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="JPY", CurrencyRate="6.7", CurrencyUnit=100, Total="50000")
    out = register_payment.run(ctx, pay(amount="12345", currency="JPY"))
    # 12345 JPY x 6.7 SEK / 100 JPY = 827.115 -> 827.12 (half up)
    assert out["amount"] == "827.12" and out["amount_currency"] == "12345.00"
    [stored] = payments_of(sandbox, sandbox_tenant)
    assert Decimal(str(stored["Amount"])) == Decimal("827.12") and stored["CurrencyUnit"] == 100
    assert Decimal(str(sandbox.invoice(sandbox_tenant, DOC)["Balance"])) == Decimal("37655")


def test_given_currency_rate_overrides_the_invoices(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.4567")
    out = register_payment.run(ctx, pay(amount="100.00", currency="EUR", currency_rate="11.5"))
    assert out["amount"] == "1150.00" and out["currency_rate"] == "11.5"


def test_partial_then_final_payment_makes_the_invoice_fully_paid(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant)
    register_payment.run(ctx, pay(amount="400.00", key="a"))
    mid = get_invoice.run(ctx, {"invoice": {"document_number": str(DOC)}})
    assert mid["fully_paid"] is False and mid["balance"] == "600.00" and mid["final_pay_date"] is None
    out = register_payment.run(ctx, pay(amount="600.00", key="b", payment_date="2026-03-02"))
    assert out["invoice_balance_after"] == "0.00"
    done = get_invoice.run(ctx, {"invoice": {"document_number": str(DOC)}})
    assert done["fully_paid"] is True and done["balance"] == "0.00"
    assert done["final_pay_date"] == "2026-03-02"
    assert [p["amount"] for p in done["payments"]] == ["400.00", "600.00"]
    # test_end_to_end.py shows the invoice_paid trigger firing for this, once.


@pytest.mark.parametrize(
    ("fields", "request_fields", "reason"),
    [
        ({"Cancelled": True}, {}, "cancelled"),
        ({"Credit": True}, {}, "credit invoice"),
        ({}, {"currency": "EUR"}, "the invoice is in SEK"),
        ({}, {"amount": "1000.01"}, "above the invoice's balance"),
        ({}, {"payment_date": "2026-02-19"}, "before the invoice date 2026-02-20"),
    ],
)
def test_rejections_post_nothing(
    ctx: TenantContext,
    sandbox: Sandbox,
    sandbox_tenant: int,
    recorder: Recorder,
    fields: dict[str, Any],
    request_fields: dict[str, Any],
    reason: str,
) -> None:
    add(sandbox, sandbox_tenant, **fields)
    with pytest.raises(ActionRejected) as info:
        register_payment.run(ctx, pay(**request_fields))
    assert reason in str(info.value)
    assert f"tenant {sandbox_tenant}" in str(info.value) and f"invoice {DOC}" in str(info.value)
    assert info.value.hint
    assert recorder.posts() == 0 and payments_of(sandbox, sandbox_tenant) == []
    assert ctx.state.load_idempotency(ctx.tenant, "k1") is None  # a corrected request may reuse the key


def test_overpayment_allowed_when_asked(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    add(sandbox, sandbox_tenant)
    out = register_payment.run(ctx, pay(amount="1000.50", allow_overpayment=True))
    assert out["invoice_balance_after"] == "-0.50"


def test_date_moved_to_the_invoice_date_when_asked(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant)
    out = register_payment.run(ctx, pay(payment_date="2026-01-01", move_date_to_invoice_date=True))
    assert out["payment_date"] == "2026-02-20"
    [stored] = payments_of(sandbox, sandbox_tenant)
    assert stored["PaymentDate"] == "2026-02-20"


def test_no_bookkeeping_when_not_asked(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    add(sandbox, sandbox_tenant)
    out = register_payment.run(ctx, pay(bookkeep=False))
    assert out["booked"] is False
    assert payments_of(sandbox, sandbox_tenant)[0]["Booked"] is False


def test_missing_mode_of_payment_is_a_config_error(
    sandbox: Sandbox, sandbox_tenant: int, ctx: TenantContext
) -> None:
    bare = make_ctx(ctx.client, ctx.state, ctx.tenant, TenantConfig())
    with pytest.raises(ConfigError) as info:
        register_payment.run(bare, pay())
    assert info.value.field == "default_mode_of_payment"
    with pytest.raises(ConfigError) as info:
        register_payment.run(bare, pay(mode_of_payment="BG"))
    assert info.value.field == "default_mode_of_payment_account"


def test_unknown_invoice_names_tenant_and_invoice(ctx: TenantContext, recorder: Recorder) -> None:
    with pytest.raises(ActionRejected) as info:
        register_payment.run(ctx, pay(doc=777777))
    assert "invoice 777777" in str(info.value) and info.value.tenant == ctx.tenant
    assert recorder.posts() == 0


def test_invoice_found_by_ocr(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    inv = add(sandbox, sandbox_tenant, OCR="90019")
    data = pay()
    data["invoice"] = {"ocr": inv["OCR"]}
    out = register_payment.run(ctx, data)
    assert out["invoice_number"] == str(DOC)


def test_missing_payment_scope_hints_at_reconnecting(
    sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    token = str(sandbox.issue_token(sandbox_tenant, ("invoice",))["access_token"])
    with make_client(sandbox.base_url, token, str(sandbox_tenant), recorder) as client:
        ctx = make_ctx(client, MemoryStateStore(), str(sandbox_tenant))
        with pytest.raises(MissingScope) as info:
            register_payment.run(ctx, pay())
    text = str(info.value)
    assert f"tenant {sandbox_tenant}" in text and f"invoice {DOC}" in text and "scope 'payment'" in text
    assert recorder.posts() == 0


def test_missing_licence_names_the_fix(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    add(sandbox, sandbox_tenant)
    sandbox.set_licences(sandbox_tenant, ["invoice"])
    with pytest.raises(MissingLicence) as info:
        register_payment.run(ctx, pay())
    assert "licence" in str(info.value) and f"invoice {DOC}" in str(info.value)


# -- exactly once ------------------------------------------------------------------------------------------


def test_same_key_twice_replays_without_a_request(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    first = register_payment.run(ctx, pay())
    sent = len(recorder.calls)
    again = register_payment.run(ctx, pay(amount="400"))  # the same request, written differently
    assert len(recorder.calls) == sent
    assert again == {**first, "idempotent_replay": True}
    assert len(payments_of(sandbox, sandbox_tenant)) == 1


def test_same_key_with_another_request_is_refused(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    register_payment.run(ctx, pay())
    sent = len(recorder.calls)
    with pytest.raises(ActionRejected, match="already used for a different payment"):
        register_payment.run(ctx, pay(amount="300.00"))
    assert len(recorder.calls) == sent


def test_dropped_post_before_storing_then_retry_pays_once(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    """The sandbox's "drop" closes the connection before the payment is stored."""
    add(sandbox, sandbox_tenant)
    sandbox.inject_fault("drop", count=1, path_prefix="/3/invoicepayments", method="POST")
    with pytest.raises(AmbiguousWrite) as info:
        register_payment.run(ctx, pay())
    assert "same idempotency key" in str(info.value)
    assert payments_of(sandbox, sandbox_tenant) == []
    record = ctx.state.load_idempotency(ctx.tenant, "k1")
    assert record is not None and record.status == "pending"
    out = register_payment.run(ctx, pay())
    assert out["booked"] is True
    assert len(payments_of(sandbox, sandbox_tenant)) == 1 and recorder.posts() == 2


def test_response_lost_after_storing_is_recognised_without_a_second_post(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    sandbox.add_payment(sandbox_tenant, DOC, Amount="400.00", PaymentDate="2026-03-01", ModeOfPayment="BG")
    lost = iter([True])

    def lose_response(request: httpx.Request) -> None:
        if request.method == "POST" and next(lost, False):
            raise httpx.ReadTimeout("response lost", request=request)

    recorder.after = lose_response
    out = register_payment.run(ctx, pay())
    stored = payments_of(sandbox, sandbox_tenant)
    assert len(stored) == 2  # the look-alike that existed before, and ours
    assert out["payment_number"] == str(stored[1]["Number"]) and out["booked"] is True
    assert recorder.posts() == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_around_the_post_is_recovered_by_the_next_attempt(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder, when: str
) -> None:
    """The process dies just before the POST leaves or just after Fortnox stored it: one payment."""
    add(sandbox, sandbox_tenant)

    def crash(request: httpx.Request) -> None:
        if request.method == "POST":
            raise RuntimeError("the process died")

    setattr(recorder, when, crash)
    with pytest.raises(RuntimeError):
        register_payment.run(ctx, pay())
    setattr(recorder, when, None)
    out = register_payment.run(ctx, pay())
    assert len(payments_of(sandbox, sandbox_tenant)) == 1
    assert recorder.posts() == (1 if when == "after" else 2)  # "before" never reached Fortnox
    assert out["booked"] is True and out["invoice_balance_after"] == "600.00"


def posted_but_not_booked(ctx: TenantContext, sandbox: Sandbox, tenant: int) -> dict[str, Any]:
    """A first attempt whose POST succeeds and whose bookkeeping fails: the payment it left, unbooked."""
    add(sandbox, tenant)
    sandbox.inject_fault("500", count=1, path_prefix="/3/invoicepayments/", method="PUT")
    with pytest.raises(FortnoxUnavailable):
        register_payment.run(ctx, pay())
    [stored] = payments_of(sandbox, tenant)
    assert stored["Booked"] is False
    return stored


def test_failed_bookkeeping_is_retried_without_posting_again(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    stored = posted_but_not_booked(ctx, sandbox, sandbox_tenant)
    out = register_payment.run(ctx, pay())
    assert out["booked"] is True and out["payment_number"] == str(stored["Number"])
    assert recorder.posts() == 1 and payments_of(sandbox, sandbox_tenant)[0]["Booked"] is True


def test_a_payment_claimed_by_another_key_is_not_taken(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    """Two keys pay the same amount the same day: the second must not adopt the first's payment."""
    add(sandbox, sandbox_tenant)
    first = register_payment.run(ctx, pay(key="a"))
    ctx.state.save_idempotency(  # make "b" look like a crash between its pending record and its POST
        ctx.tenant, register_payment_pending(ctx, pay(key="b"), known=[])
    )
    out = register_payment.run(ctx, pay(key="b"))
    assert out["payment_number"] != first["payment_number"]
    assert len(payments_of(sandbox, sandbox_tenant)) == 2


def register_payment_pending(ctx: TenantContext, data: dict[str, Any], known: list[str]) -> Any:
    from fortnox_connector.actions.inputs import read_payment_request
    from fortnox_connector.contract.state import IdempotencyRecord

    req = read_payment_request(data, ctx.config, ctx.tenant)
    planned = {
        "invoice_number": str(DOC),
        "amount": "400.00",
        "amount_currency": "400.00",
        "currency": "SEK",
        "currency_rate": "1",
        "payment_date": "2026-03-01",
        "mode_of_payment": "BG",
        "mode_of_payment_account": 1930,
    }
    return IdempotencyRecord(
        key=req.idempotency_key,
        fingerprint=req.fingerprint,
        status="pending",
        result={"planned": planned, "known_payments": known},
    )


def test_a_deleted_payment_of_an_earlier_attempt_is_reported_not_reposted(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    stored = posted_but_not_booked(ctx, sandbox, sandbox_tenant)
    ctx.client.delete_invoice_payment(str(stored["Number"]))
    with pytest.raises(ActionRejected, match="is gone from Fortnox"):
        register_payment.run(ctx, pay())
    assert recorder.posts() == 1
