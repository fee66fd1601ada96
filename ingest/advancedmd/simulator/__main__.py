"""Entry point for ``python -m ingest.advancedmd.simulator``."""

import sys

from ingest.advancedmd.simulator.cli import main

sys.exit(main())
