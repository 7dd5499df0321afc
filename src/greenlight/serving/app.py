"""greenlight's own POST /predict, as a Starlette router: validation with the bundle's pydantic
request model, the engine (and its request coalescer), the JSON answer and the request id.

The service mounts it on its BentoML service (`@bentoml.asgi_app`, service.py), which keeps
BentoML's /livez, /readyz, /metrics, its traffic middlewares and its bento packaging, and skips
BentoML's per-request IO path (its input validation and output serialization, which cost more
than the model on one record: issue 13). The bench's plain peer (peer.py) runs the same app on
uvicorn alone. The engine is attached once it is loaded and proven; until then the route answers
503 naming why."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from greenlight.serving.batcher import Coalescer
from greenlight.serving.outputs import ModelOutputError
from greenlight.serving.schema import PredictResponse, RequestSchema
from greenlight.serving.settings import ServingSettings

if TYPE_CHECKING:  # not imported here: BentoML's supervisor imports this module, and it must
    # not load scikit-learn and pandas (the engine's, in the worker only)
    from greenlight.serving.engine import Engine, Row

logger = logging.getLogger("greenlight.serving")
JSON = "application/json"


def _ignore(_: object) -> None:
    return None


@dataclass
class Hooks:
    """What the host counts: answered predictions, model outputs that were not probabilities
    (by model version)."""

    on_predictions: Callable[[PredictResponse], None] = _ignore
    on_model_error: Callable[[str], None] = _ignore


class PredictRoute:
    """The endpoint; `attach` gives it the loaded engine (or `fail` the reason it has none)."""

    def __init__(self, schema: RequestSchema, hooks: Hooks | None = None) -> None:
        self.schema = schema
        self.hooks = hooks or Hooks()
        self.engine: Engine | None = None
        self.coalescer: Coalescer | None = None
        self.failure = "the model is still loading"

    def attach(self, engine: Engine, settings: ServingSettings) -> None:
        self.engine = engine
        if settings.coalesce:
            thread = ThreadPoolExecutor(1, "greenlight-model") if settings.model_thread else None
            self.coalescer = Coalescer(engine.predict_many, settings.max_batch, executor=thread)

    def fail(self, reason: str) -> None:
        self.failure = reason

    async def handle(self, request: Request) -> Response:
        if self.engine is None:
            return JSONResponse({"error": f"not ready: {self.failure}"}, status_code=503)
        try:
            parsed = self.schema.request.model_validate_json(await request.body())
        except ValidationError as error:
            detail = error.errors(include_context=False, include_input=False, include_url=False)
            return JSONResponse({"error": "invalid request", "detail": detail}, status_code=400)
        request_id = uuid.uuid4().hex
        rows = [self.schema.as_dict(record) for record in parsed.records]  # type: ignore[attr-defined]
        try:
            answer = await self._predict(self.engine, rows, request_id)
        except ModelOutputError as error:
            return self._model_failed(self.engine, error, request_id)
        self.hooks.on_predictions(answer)
        headers = {"X-Request-ID": request_id}  # the log lines' request_id
        return Response(answer.model_dump_json(), media_type=JSON, headers=headers)

    async def _predict(self, engine: Engine, rows: list[Row], request_id: str) -> PredictResponse:
        if self.coalescer is None:
            return engine.predict(rows, request_id)
        return await self.coalescer.submit((rows, request_id), len(rows))

    def _model_failed(self, engine: Engine, error: ModelOutputError, request_id: str) -> Response:
        """A 500, counted and logged with the model version; no prediction is logged or sent."""
        self.hooks.on_model_error(engine.model_version)
        logger.error("request %s: %s", request_id, error)
        body = {"error": str(error), "request_id": request_id}
        return JSONResponse(body, status_code=500, headers={"X-Request-ID": request_id})


def predict_app(route: PredictRoute, *more: Route) -> Router:
    """POST /predict, and `more` routes beside it (the service's POST /feedback).

    A bare Router, not a Starlette app: whoever mounts it (BentoML's app, the bench's peer)
    already wraps it in Starlette's error and exception middlewares, and a second stack of them
    cost CPU on every request (py-spy on the worker, issue 13)."""
    return Router(routes=[Route("/predict", route.handle, methods=["POST"]), *more])
