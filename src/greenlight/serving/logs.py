"""Server log hygiene. BentoML logs every rejected request body as an ERROR with a traceback;
those are the client's mistakes, answered with a 400 that names the problem and counted in
/metrics, so in the server log they are noise that a bad client could use to flood it."""

from __future__ import annotations

import logging

from pydantic import ValidationError

# The logger BentoML's `log_exception` writes request failures to.
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"


class DropClientValidationErrors(logging.Filter):
    """Drops records carrying a pydantic ValidationError (a 400); every other error passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ValidationError)


def quiet_client_errors() -> None:
    logging.getLogger(BENTOML_REQUEST_LOGGER).addFilter(DropClientValidationErrors())
