"""``python -m lut4brian [--grid LOW:HIGH:STEP | --tolerance RTOL] [--variable NAME] [--compare] SCRIPT [ARGS...]`` (see `lut4brian.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":  # not when a test collector imports it
    sys.exit(main())
