"""The plain peers of the service, for `make bench-serve` only: the same /predict route (engine,
request model, startup tuning: one OpenMP thread, gc.freeze) on Starlette + uvicorn, without
BentoML. With GREENLIGHT_COALESCE=false it makes one model call per request (the plain app the
speed goals are set against); with the coalescer it shows what the framework itself costs. Not
a service to deploy: no request guard, metrics, bento or readiness beyond a loaded model.

    python -m tools.bench.serve_peer --port 3001   (settings from GREENLIGHT_* variables)"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as service.py

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from greenlight.localnet import HOST
from greenlight.serving.app import PredictRoute, predict_app
from greenlight.serving.imports import import_for_serving
from greenlight.serving.schema import request_schema
from greenlight.serving.settings import ServingSettings, from_environment


def build_app(settings: ServingSettings) -> Starlette:
    """The service's own /predict route (serving/app.py) on plain Starlette; with
    `settings.coalesce` false, one model call per request: the plain app of issue 13. It imports
    what the service's worker imports, in the same order (service.py, `_engine_module`)."""
    import_for_serving()
    from greenlight.serving.engine import Engine, freeze_startup_heap  # noqa: PLC0415

    engine = Engine.start(settings)
    bundle = engine.predictor.bundle
    route = PredictRoute(request_schema(bundle.spec, bundle.features, settings.max_batch))
    route.attach(engine, settings)

    async def readyz(_: Request) -> Response:
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        engine.close()  # flushes the prediction log

    routes = [Route("/readyz", readyz), Mount("/", predict_app(route))]
    if settings.gc_freeze:
        freeze_startup_heap()
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = build_app(from_environment())
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
