"""``python -m fortnox_connector.runtime.cli`` = ``fortnox-connector``."""

import sys

from fortnox_connector.runtime.cli import main

sys.exit(main())
