"""``python -m builder.manifest``: see ``builder.manifest.cli``."""

import sys

from builder.manifest.cli import main

if __name__ == "__main__":
    sys.exit(main())
