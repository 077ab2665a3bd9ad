"""``python -m lut4brian [--grid LOW:HIGH:STEP | --tolerance RTOL] [--compare] SCRIPT [ARGS...]`` (see `lut4brian.cli`)."""

import sys

from .cli import main

sys.exit(main())
