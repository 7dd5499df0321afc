"""Client validation errors stay out of the server log; real errors do not."""

from __future__ import annotations

import logging
import sys

import pytest
from pydantic import BaseModel, ValidationError

from greenlight.serving.logs import BENTOML_REQUEST_LOGGER, DropClientValidationErrors


class Strict(BaseModel):
    number: int


def record_with(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException:  # noqa: BLE001 (capturing exc_info for the record under test)
        exc_info = sys.exc_info()
    return logging.LogRecord(
        BENTOML_REQUEST_LOGGER, logging.ERROR, "", 0, "Exception", (), exc_info
    )


def test_a_validation_error_is_dropped() -> None:
    with pytest.raises(ValidationError) as caught:
        Strict.model_validate({"number": "x"})
    assert not DropClientValidationErrors().filter(record_with(caught.value))


@pytest.mark.parametrize("error", [RuntimeError("bug"), ValueError("bad"), KeyError("k")])
def test_other_errors_pass(error: BaseException) -> None:
    assert DropClientValidationErrors().filter(record_with(error))


def test_records_without_an_exception_pass() -> None:
    plain = logging.LogRecord(BENTOML_REQUEST_LOGGER, logging.ERROR, "", 0, "msg", (), None)
    assert DropClientValidationErrors().filter(plain)
