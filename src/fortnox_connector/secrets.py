"""A wrapper that keeps a secret out of reprs, logs, exceptions and JSON by accident.

Only ``reveal()`` gives the value, so every place a secret leaves the process is visible in code review.
"""

from __future__ import annotations

import hashlib
from typing import Final

_MASK: Final = "***"


class Secret:
    """An opaque secret string. ``str()``/``repr()``/``format()`` print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret is a string")
        self._value = value

    def reveal(self) -> str:
        """The value itself: call only where it leaves for Fortnox or an encrypted store."""
        return self._value

    def fingerprint(self) -> str:
        """A short, stable, non-reversible tag to tell two secrets apart in logs and tests."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:10]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[object, ...]:  # pragma: no cover - guard
        raise TypeError("secrets are not pickled")


def redact(text: str, *secrets: Secret | str | None) -> str:
    """Replace every occurrence of each secret's value in ``text`` with a mask."""
    for s in secrets:
        value = s.reveal() if isinstance(s, Secret) else s
        if value and len(value) >= 4:
            text = text.replace(value, _MASK)
    return text
