"""Fuzz: the actions' input (register_payment, get_invoice) never crashes and never passes unchecked.

A silent acceptance is judged independently of the code under test: an accepted input whose keys are not
the schema's, whose amount or date is not in the one strict form, or whose values break the bounds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fortnox_connector.actions.bounds import MAX_AMOUNT, MAX_DAYS_AHEAD, STOCKHOLM
from fortnox_connector.actions.inputs import (
    GET_INVOICE_SCHEMA,
    PaymentRequest,
    check_input,
    invoice_ref,
    read_payment_request,
)
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import ConnectorError
from tests.hardening.outcomes import tally
from tests.hardening.strategies import FUZZ, JSON, mutated

CONFIG = TenantConfig(default_mode_of_payment="BG", default_mode_of_payment_account=1930)
VALID: dict[str, Any] = {
    "invoice": {"document_number": "5"},
    "amount": "1250.50",
    "currency": "EUR",
    "currency_rate": "11.45",
    "payment_date": "2026-03-01",
    "mode_of_payment": "BG",
    "mode_of_payment_account": 1930,
    "bookkeep": True,
    "allow_overpayment": False,
    "move_date_to_invoice_date": False,
    "idempotency_key": "k-1",
}
KEYS = sorted(VALID)
STRICT_AMOUNT = re.compile(r"\s*(?=[0-9.]*[1-9])[0-9]+(\.[0-9]{1,2})?\s*", re.ASCII)
STRICT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _judge(data: dict[str, Any]) -> Any:
    def silent(req: PaymentRequest) -> str | None:
        if set(data) - set(KEYS):
            return f"unknown keys {sorted(set(data) - set(KEYS))}"
        amount = data.get("amount")
        if isinstance(amount, str) and not STRICT_AMOUNT.fullmatch(amount):
            return f"amount {amount!r}"
        if not (0 < req.amount < MAX_AMOUNT):
            return f"amount {req.amount}"
        if not STRICT_DATE.fullmatch(str(data.get("payment_date")).strip()):
            return f"payment_date {data.get('payment_date')!r}"
        if req.payment_date > datetime.now(STOCKHOLM).date() + timedelta(days=MAX_DAYS_AHEAD):
            return f"payment_date {req.payment_date}"
        if req.currency_rate is not None and not (req.currency_rate > 0 and req.currency_rate.is_finite()):
            return f"currency_rate {req.currency_rate}"
        if req.amount != req.amount.quantize(Decimal("0.01")):
            return f"amount {req.amount} has more than two decimals"
        return None

    return silent


@FUZZ
@given(mutated(VALID, KEYS))
def test_register_payment_input_is_refused_clearly_or_accepted_rightly(data: dict[str, Any]) -> None:
    t = tally("register_payment input")
    t.attempt(lambda: read_payment_request(data, CONFIG, "t1"), clear=(ConnectorError,), silent=_judge(data))
    t.assert_clean()


@FUZZ
@given(JSON)
def test_register_payment_input_of_any_json_shape(data: Any) -> None:
    t = tally("register_payment input")
    judge = _judge(data) if isinstance(data, dict) else (lambda _r: "a non-object was accepted")
    t.attempt(lambda: read_payment_request(data, CONFIG, "t1"), clear=(ConnectorError,), silent=judge)
    t.assert_clean()


@FUZZ
@given(st.one_of(JSON, mutated({"invoice": {"document_number": "5"}}, ["invoice"])))
def test_get_invoice_input(data: Any) -> None:
    t = tally("get_invoice input")

    def call() -> Any:
        return invoice_ref(check_input(data, GET_INVOICE_SCHEMA, "t1"), "t1")

    def silent(_ref: Any) -> str | None:
        if not isinstance(data, dict) or set(data) != {"invoice"} or not isinstance(data["invoice"], dict):
            return "not {'invoice': {...}}"
        ref = data["invoice"]
        return (
            None if len(set(ref) & {"document_number", "ocr"}) == 1 and len(ref) == 1 else f"invoice {ref!r}"
        )

    t.attempt(call, clear=(ConnectorError,), silent=silent)
    t.assert_clean()
