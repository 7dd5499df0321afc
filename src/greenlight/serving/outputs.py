"""The error of a model output that is not a probability, apart from the predictor (numpy,
pandas, the bundle), so that the HTTP route can name it without loading them."""

from __future__ import annotations

from greenlight.errors import GreenlightError


class ModelOutputError(GreenlightError, ArithmeticError):
    """The model answered something that is not a probability: NaN, infinite, outside [0, 1]."""
