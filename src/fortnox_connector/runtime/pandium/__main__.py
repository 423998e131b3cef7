"""``python -m fortnox_connector.runtime.pandium``: the same run as ``fortnox-connector pandium``."""

from __future__ import annotations

import os
import sys

from fortnox_connector.runtime.pandium import main

if __name__ == "__main__":
    sys.exit(main(os.environ, sys.stdout, sys.stderr))
