"""`python -m greenlight` is the same as the `greenlight` command."""

from greenlight.cli import main

main()
