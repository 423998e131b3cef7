"""The ``fortnox-connector`` command line (the runtime issue fills it in)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("fortnox-connector: not implemented yet", file=sys.stderr)
    return 2
