"""The plain peer of the service, for `make bench-serve` only: the same engine, coalescer,
request model and startup tuning (one OpenMP thread, gc.freeze) on Starlette + uvicorn, without
BentoML, so the benchmark shows what the framework costs. Not a service to deploy: no request
guard, metrics, bento or readiness beyond a loaded model.

    python -m greenlight.serving.peer --port 3001   (settings from GREENLIGHT_* variables)"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as service.py

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from greenlight.localnet import HOST
from greenlight.serving.batcher import Coalescer
from greenlight.serving.engine import Engine, freeze_startup_heap
from greenlight.serving.schema import RequestSchema, request_schema
from greenlight.serving.settings import ServingSettings, from_environment


def build_app(settings: ServingSettings) -> Starlette:
    engine = Engine.start(settings)
    bundle = engine.predictor.bundle
    schema = request_schema(bundle.spec, bundle.features, settings.max_batch)
    coalescer = Coalescer(engine.predict_many, max_rows=settings.max_batch)
    predict = _predict_endpoint(schema, coalescer)

    async def readyz(_: Request) -> Response:
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        engine.close()  # flushes the prediction log

    routes = [Route("/predict", predict, methods=["POST"]), Route("/readyz", readyz)]
    if settings.gc_freeze:
        freeze_startup_heap()
    return Starlette(routes=routes, lifespan=lifespan)


def _predict_endpoint(schema: RequestSchema, coalescer: Coalescer) -> object:
    async def predict(request: Request) -> Response:
        try:
            parsed = schema.request.model_validate_json(await request.body())
        except ValidationError as error:
            detail = error.errors(include_context=False, include_input=False)
            return JSONResponse({"error": "invalid request", "detail": detail}, status_code=400)
        rows = [schema.as_dict(record) for record in parsed.records]  # type: ignore[attr-defined]
        answer = await coalescer.submit((rows, uuid.uuid4().hex), len(rows))
        return Response(answer.model_dump_json(), media_type="application/json")

    return predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = build_app(from_environment())
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
