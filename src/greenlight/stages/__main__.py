"""`python -m greenlight.stages <name> [--params PATH]`: run one pipeline stage (runner.py)."""

import sys

from greenlight.stages.runner import main

sys.exit(main())
