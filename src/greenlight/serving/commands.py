"""The serving commands of the `greenlight` CLI (registered in cli.py). Cheap to import: each
command imports its module when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from greenlight.config import DEFAULT_PARAMS


def serve(
    *,
    bundle: Annotated[
        Path | None, typer.Option(help="Model bundle directory (default: serving.bundle).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    prediction_log: Annotated[
        Path | None,
        typer.Option(help="Prediction log file (default: serving.prediction_log)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: serving.workers).")
    ] = None,
    params: Annotated[Path, typer.Option(help="Parameters file (its serving: section).")] = (
        DEFAULT_PARAMS
    ),
) -> None:
    """Serve the model over HTTP in the foreground until SIGTERM or Ctrl-C."""
    from greenlight.serving import launch  # noqa: PLC0415

    launch.serve(launch.resolve(params, bundle, prediction_log, workers), host, port)


def bento(
    bundle: Annotated[Path, typer.Option(help="Model bundle to package.")] = Path("models/bundle"),
) -> None:
    """Build the BentoML bento greenlight-service:<model version> (service + bundle + pins)."""
    from greenlight.serving import bento as packaging  # noqa: PLC0415

    typer.echo(f"built {packaging.build(bundle)}")


def containerize(
    bundle: Annotated[Path, typer.Option(help="Model bundle whose bento to build.")] = Path(
        "models/bundle"
    ),
    engine: Annotated[
        str | None, typer.Option(help="docker or podman (default: the first that runs).")
    ] = None,
    image_tag: Annotated[
        str | None, typer.Option(help="Image name:tag (default: the bento's tag).")
    ] = None,
) -> None:
    """Build the OCI image of the bento greenlight-service:<model version>."""
    from greenlight.manifest import read_manifest  # noqa: PLC0415
    from greenlight.serving import bento as packaging  # noqa: PLC0415

    version = packaging.bento_version(str(read_manifest(bundle)["model_version"]))
    tag = f"{packaging.BENTO_NAME}:{version}"
    chosen = packaging.find_engine(tag, engine)
    typer.echo(f"image {packaging.containerize(tag, chosen, image_tag)} built with {chosen}")
