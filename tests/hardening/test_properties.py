"""Property-based tests for behaviours a single example guarded before (issue 11): öre rounding, the
idempotency fingerprint and its refusal, and the pacer's recovery after a 429."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fortnox_connector.actions import register_payment
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import fingerprint
from fortnox_connector.actions.money import ORE, company_amount, to_ore
from fortnox_connector.contract.state import IdempotencyRecord, MemoryStateStore
from fortnox_connector.fortnox.pacing import MIN_LIMIT, RECOVER_AFTER, Pacer
from tests.hardening.strategies import FUZZ

AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999.99"), places=2)
RATES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("2000"), places=4)
UNITS = st.sampled_from([Decimal(1), Decimal(100)])


@FUZZ
@given(AMOUNTS, RATES, UNITS)
def test_the_amount_in_sek_is_the_exact_product_rounded_half_up_to_the_ore(
    amount: Decimal, rate: Decimal, unit: Decimal
) -> None:
    exact = amount * rate / unit
    sek = company_amount(amount, rate, unit)
    assert sek.as_tuple().exponent == -2  # always öre
    assert abs(sek - exact) <= Decimal("0.005")  # never more than half an öre off
    if abs(sek - exact) == Decimal("0.005"):
        assert abs(sek) > abs(exact)  # a half goes away from zero, never to even
    assert sek == exact.quantize(ORE, rounding=ROUND_HALF_UP)


@FUZZ
@given(AMOUNTS, AMOUNTS, RATES)
def test_rounding_keeps_the_order_of_amounts(a: Decimal, b: Decimal, rate: Decimal) -> None:
    low, high = sorted((a, b))
    assert company_amount(low, rate, Decimal(1)) <= company_amount(high, rate, Decimal(1))


@FUZZ
@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=3))
def test_to_ore_is_symmetric_around_zero(value: Decimal) -> None:
    assert to_ore(-value) == -to_ore(value)


REQUEST: dict[str, Any] = {
    "invoice": {"document_number": "5"},
    "amount": "10.00",
    "currency": "SEK",
    "payment_date": "2026-03-01",
    "idempotency_key": "k",
}
SPELLINGS = st.sampled_from([("amount", "10"), ("amount", "10.0"), ("amount", 10), ("amount", " 10.00 ")])
CHANGES = st.sampled_from(
    [
        ("amount", "10.01"),
        ("amount", "100.00"),
        ("currency", "EUR"),
        ("payment_date", "2026-03-02"),
        ("invoice", {"document_number": "6"}),
        ("invoice", {"ocr": "5"}),
        ("bookkeep", False),
        ("mode_of_payment", "PG"),
        ("mode_of_payment_account", 1920),
        ("allow_overpayment", True),
    ]
)


@FUZZ
@given(SPELLINGS, st.text(min_size=1, max_size=20))
def test_the_fingerprint_ignores_the_key_and_the_spelling_of_numbers(
    spelling: tuple[str, Any], key: str
) -> None:
    name, value = spelling
    assert fingerprint({**REQUEST, name: value, "idempotency_key": key}) == fingerprint(REQUEST)


@FUZZ
@given(st.lists(CHANGES, min_size=1, max_size=3, unique_by=lambda c: c[0]))
def test_the_fingerprint_changes_with_anything_the_payment_depends_on(changes: list[tuple[str, Any]]) -> None:
    assert fingerprint({**REQUEST, **dict(changes)}) != fingerprint(REQUEST)


@pytest.fixture(scope="module")
def unreachable_ctx() -> Any:
    """A context whose client can reach nothing: a refusal must come before any request."""
    import logging

    from fortnox_connector.context import TenantContext
    from fortnox_connector.declaration.config import TenantConfig
    from fortnox_connector.fortnox.client import FortnoxClient
    from fortnox_connector.secrets import Secret

    class NoTokens:
        def access_token(self) -> Secret:
            raise AssertionError("a refused request must not ask for a token")

        def invalidate(self, token: Secret) -> None: ...

        def extra_headers(self) -> dict[str, str]:
            return {}

    client = FortnoxClient(tenant="t1", tokens=NoTokens(), client_id="c", base_url="http://127.0.0.1:1")
    return lambda state: TenantContext(
        tenant="t1",
        config=TenantConfig(default_mode_of_payment="BG", default_mode_of_payment_account=1930),
        client=client,
        state=state,
        now=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        log=logging.LoggerAdapter(logging.getLogger("tests"), {"tenant": "t1"}),
    )


@FUZZ
@given(
    st.lists(CHANGES, min_size=1, max_size=3, unique_by=lambda c: c[0]),
    st.sampled_from(["pending", "completed"]),
)
def test_a_key_reused_for_another_payment_is_refused_before_any_request(
    unreachable_ctx: Any, changes: list[tuple[str, Any]], status: str
) -> None:
    state = MemoryStateStore()
    first = IdempotencyRecord(key="k", fingerprint=fingerprint(REQUEST), status=status, result={}, attempts=1)  # type: ignore[arg-type]
    state.save_idempotency("t1", first)
    with pytest.raises(ActionRejected, match="already used for a different payment"):
        register_payment.run(unreachable_ctx(state), {**REQUEST, **dict(changes)})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@FUZZ
@given(
    st.integers(min_value=MIN_LIMIT, max_value=40),
    st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=50),
)
def test_after_429s_the_limit_stays_in_bounds_and_grows_back_one_per_quiet_minute(
    limit: int, gaps: list[float], quiet_minutes: int
) -> None:
    clock = Clock()
    pacer = Pacer(limit=limit, clock=clock, sleep=clock.sleep)
    for gap in gaps:  # a burst of 429s, spread out
        clock.now += gap
        before = pacer.limit
        pacer.record_throttled()
        assert MIN_LIMIT <= pacer.limit <= before <= limit
    lowered = pacer.limit
    assert lowered < limit or limit == MIN_LIMIT
    for _ in range(quiet_minutes):  # quiet: requests go through, no 429
        clock.now += RECOVER_AFTER + 0.001  # a quiet minute (and a bit: float sums are not exact)
        pacer.acquire()
        pacer.release()
    assert pacer.limit == min(limit, lowered + quiet_minutes)
