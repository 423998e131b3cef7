"""The ``fortnox-connector`` console script: the CLI, or which extra to install when it is missing.

A host's plain install has no click, rich, croniter or cryptography (only the reference runtime uses
them), so the script checks for them before importing the CLI and says what to install instead of a
traceback.
"""

from __future__ import annotations

import importlib.util
import sys

RUNTIME_EXTRA = "pip install 'fortnox-connector[runtime]'"
NEEDED = ("click", "rich", "croniter", "cryptography")


def missing() -> list[str]:
    """The runtime's packages that are not installed."""
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def main() -> int:
    absent = missing()
    if absent:
        print(
            f"fortnox-connector: the command line needs the runtime extra ({', '.join(absent)} not "
            f"installed). Fix: {RUNTIME_EXTRA}",
            file=sys.stderr,
        )
        return 2
    from fortnox_connector.runtime.cli import main as cli_main

    return cli_main()
