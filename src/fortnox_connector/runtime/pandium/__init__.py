"""Pandium run mode: ``fortnox-connector pandium`` runs one tenant's triggers as a Pandium integration run.

See ``docs/pandium.md`` for the environment it reads, the JSON it prints and how state travels between runs.
"""

from fortnox_connector.runtime.pandium.app import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Overrides, main, run

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "Overrides", "main", "run"]
