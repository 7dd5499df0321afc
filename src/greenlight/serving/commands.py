"""The serving commands of the `greenlight` CLI (registered in cli.py). Cheap to import: each
command imports its module when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from greenlight.settings_base import DEFAULT_PARAMS


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
    log_predictions: Annotated[
        bool | None,
        typer.Option(
            "--log-predictions/--no-log-predictions",
            help="Write the prediction log (default: serving.log_predictions).",
            show_default=False,
        ),
    ] = None,
    params: Annotated[Path, typer.Option(help="Parameters file (its serving: section).")] = (
        DEFAULT_PARAMS
    ),
) -> None:
    """Serve the model over HTTP in the foreground until SIGTERM or Ctrl-C."""
    from greenlight.serving import launch  # noqa: PLC0415

    settings = launch.resolve(params, bundle, prediction_log, workers, log_predictions)
    launch.serve(settings, host, port)


def bento(
    bundle: Annotated[Path, typer.Option(help="Model bundle to package.")] = Path("models/bundle"),
) -> None:
    """Build the BentoML bento greenlight-service:<model version> (service + bundle + pins)."""
    from greenlight.serving import bento as packaging  # noqa: PLC0415

    typer.echo(f"built {packaging.build(bundle)}")


def containerize(
    bundle: Annotated[Path, typer.Option(help="Model bundle to put in the image.")] = Path(
        "models/bundle"
    ),
    engine: Annotated[
        str | None, typer.Option(help="docker or podman (default: the first that runs).")
    ] = None,
    image_tag: Annotated[
        str | None, typer.Option(help="Image name:tag (default: greenlight-service:<version>).")
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option(help="Base image with Python 3.11 (default: the Dockerfile's python slim)."),
    ] = None,
) -> None:
    """Build the serving image from deploy/image/Dockerfile, offline, from `make wheelhouse`."""
    from greenlight.manifest import read_manifest  # noqa: PLC0415
    from greenlight.serving import bento as packaging  # noqa: PLC0415
    from greenlight.serving import image_build  # noqa: PLC0415

    version = packaging.bento_version(str(read_manifest(bundle)["model_version"]))
    image = image_tag or f"{packaging.BENTO_NAME}:{version}"
    chosen = packaging.find_engine(image, engine)
    built = image_build.containerize(bundle, chosen, image, base_image)
    typer.echo(f"image {image} ({built}) built with {chosen}")


def wheelhouse() -> None:
    """Download the image's locked wheels, hash-checked, into build/wheelhouse (needs the index)."""
    from greenlight.serving import image  # noqa: PLC0415

    typer.echo(f"wheels in {image.gather_wheelhouse()}")


def image_lock() -> None:
    """Write deploy/image/requirements.txt: the serving closure's pins with their hashes."""
    from greenlight.serving import image  # noqa: PLC0415

    typer.echo(f"{image.lock_image_requirements()} written")


def image_sbom(
    image: Annotated[str, typer.Option(help="The built image: name:tag or ID.")],
    engine: Annotated[
        str | None, typer.Option(help="docker or podman (default: the first that runs).")
    ] = None,
    output: Annotated[Path, typer.Option(help="Where to write it.")] = Path(
        "build/image/sbom.cdx.json"
    ),
) -> None:
    """Write the CycloneDX SBOM of the packages installed in IMAGE (cyclonedx-bom, run in it)."""
    from greenlight.serving import bento as packaging  # noqa: PLC0415
    from greenlight.serving import image_sbom as sbom  # noqa: PLC0415

    document = sbom.image_sbom(packaging.find_engine(image, engine), image, output)
    typer.echo(f"{output}: {len(document['components'])} packages installed in {image}")
