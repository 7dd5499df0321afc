"""Checks of the code itself, run as pre-commit hooks (`make lint`)."""
