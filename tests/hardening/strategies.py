"""Hypothesis strategies for hostile input: JSON-ish values, number and date spellings that fool parsers,
and dictionaries built around a valid example so that most inputs reach the deeper checks.

``FUZZ`` is the suite's settings: bounded examples (the suite stays fast), no deadline (CI machines are
shared), derandomized and without a database (the same inputs on every run: CI is stable).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Spellings that once got through or crashed a parser: exponents, underscores, other scripts' digits,
# signs, NaN and infinities, ISO week dates, compact dates, huge and tiny numbers, control characters.
TRICKY_TEXT = st.sampled_from(
    [
        "1E+1",
        "1e30",
        "1e-2",
        "1_0",
        "\u0661\u0660",
        "\uff11\uff10",
        "-1",
        "+1",
        "0",
        "0.00",
        "00010.50",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "1.",
        ".5",
        "1,5",
        "1 000",
        "9" * 5000,
        "0." + "0" * 40 + "1",
        "12.345",
        "20261125",
        "2026-W48-3",
        "9999-12-31",
        "0000-01-01",
        "2026-02-30",
        "2026-13-01",
        "2026-11-25T10:00",
        "2026-11-25\n",
        " 2026-11-25 ",
        "",
        " ",
        "\n",
        "\x00",
        "a\nb",
        "\u2028",
        "null",
        "true",
        "[]",
        "{}",
        "0 23 30 2 *",
        "61 23 * * *",
        "* * * * * * *",
        "@reboot",
        "Europe/Nowhere",
        "../../etc/passwd",
        "whsec_",
        "whsec_!!!",
        "SEK",
        "sek",
        "EUR",
        "XXXX",
        "1930",
        "0999",
        "10000",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    TRICKY_TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def mutated(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some keys dropped, some values replaced by hostile ones and some keys added."""
    known = st.sampled_from(keys)
    return st.builds(
        _mutate,
        st.just(base),
        st.lists(known, max_size=3),
        st.dictionaries(known, JSON, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=15), known.map(lambda k: k[:-1])), JSON, max_size=2),
    )


def _mutate(
    base: dict[str, Any], drop: list[str], replace: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    out = {k: v for k, v in base.items() if k not in drop}
    out.update(replace)
    out.update(extra)
    return out


def env_strings(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """An environment: some of ``names`` with hostile or ordinary string values."""
    value = st.one_of(TRICKY_TEXT, st.text(max_size=40), st.integers().map(str), JSON.map(repr))
    return st.dictionaries(st.sampled_from(names), value, max_size=len(names))
