"""`greenlight image-sbom`: the CycloneDX SBOM of the packages a built serving image really holds.
CycloneDX's own Python tool (cyclonedx-bom, pinned in tools/sbom/requirements.txt and installed
apart from .venv by `make sbom-tools`) runs inside a container of the image, with the image's own
interpreter, against the image's /opt/venv: what is listed is what is installed, not what a lock
file says. The tool is mounted read-only and put on sys.path by hand, so it is no part of what it
lists (PYTHONPATH would leak into the interpreter it asks); the container runs as production runs
it, with no network. The SBOM ships beside the image (`make sbom`, deploy.yml attests it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from packaging.utils import canonicalize_name

from greenlight.serving.bento import BuildToolError, PackagingError

TOOL_VENV = Path(".tools/sbom")
SBOM = Path("build/image/sbom.cdx.json")
TOOL_IN_CONTAINER = "/opt/sbom-tool"
VENV_IN_IMAGE = "/opt/venv"
# Run with -I (no PYTHONPATH, no user site) so the venv's interpreter it asks sees only /opt/venv.
LAUNCH = (
    "import sys; sys.path.insert(0, {tool!r}); from cyclonedx_py._internal.cli import run;"
    " sys.exit(run(argv={argv!r}, prog='cyclonedx-py'))"
)
RUN_FLAGS = ("--rm", "--network", "none", "--read-only", "--cap-drop", "ALL")
RUN_FLAGS += ("--security-opt", "no-new-privileges")


def tool_site(tool_venv: Path = TOOL_VENV) -> Path:
    """The site-packages of the SBOM tool's venv; PackagingError when it is not installed."""
    found = sorted(tool_venv.resolve().glob("lib/python3*/site-packages/cyclonedx_py"))
    if not found:
        raise PackagingError(f"no cyclonedx-bom in {tool_venv}: run `make sbom-tools`")
    return found[0].parent


def sbom_command(engine: str, image: str, site: Path) -> list[str]:
    """`engine run` of the image's Python with the tool mounted, writing the SBOM to stdout."""
    argv = ["environment", "--output-reproducible", "--of", "JSON", "-o", "-"]
    argv += ["--mc-type", "application", f"{VENV_IN_IMAGE}/bin/python"]
    script = LAUNCH.format(tool=TOOL_IN_CONTAINER, argv=argv)
    mount = f"{site}:{TOOL_IN_CONTAINER}:ro"
    command = [engine, "run", *RUN_FLAGS, "-v", mount, "--entrypoint", "python", image]
    return [*command, "-I", "-B", "-c", script]


def image_sbom(engine: str, image: str, output: Path = SBOM, tool_venv: Path = TOOL_VENV) -> dict:
    """Write the image's SBOM to `output`; return it (PackagingError naming what went wrong)."""
    command = sbom_command(engine, image, tool_site(tool_venv))
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise BuildToolError(f"cyclonedx-py in {image} failed:\n{done.stderr[-4000:]}")
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise BuildToolError(f"cyclonedx-py in {image} wrote no JSON SBOM: {error}") from error
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return document


def components(document: dict) -> dict[str, str]:
    """canonical name -> version of the SBOM's components (the image's installed distributions)."""
    return {
        canonicalize_name(item["name"]): item.get("version", "") for item in document["components"]
    }
