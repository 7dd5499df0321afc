"""The SBOM of the serving image (serving/image_sbom.py): how the tool is run, without an engine.
The SBOM of a built image is checked in test_image.py, against the image's lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenlight.serving import image_sbom
from greenlight.serving.bento import PackagingError


def test_the_tool_runs_in_the_image_isolated_and_as_production_runs_it(tmp_path: Path) -> None:
    command = image_sbom.sbom_command("docker", "img:1", tmp_path)
    assert command[:2] == ["docker", "run"] and "img:1" in command
    assert command[command.index("--network") + 1] == "none"
    assert {"--read-only", "--rm"} <= set(command)
    assert command[command.index("--cap-drop") + 1] == "ALL"
    assert command[command.index("--security-opt") + 1] == "no-new-privileges"
    assert command[command.index("-v") + 1] == f"{tmp_path}:{image_sbom.TOOL_IN_CONTAINER}:ro"
    after = command[command.index("img:1") + 1 :]
    assert after[:2] == ["-I", "-B"]  # no PYTHONPATH: the asked interpreter sees /opt/venv only
    assert "PYTHONPATH" not in " ".join(command)
    script = after[-1]
    assert "'environment'" in script and "'/opt/venv/bin/python'" in script
    assert "'--output-reproducible'" in script


def test_no_installed_tool_names_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"no cyclonedx-bom in .*make sbom-tools"):
        image_sbom.tool_site(tmp_path)


def test_components_are_the_sbom_s_names_and_versions() -> None:
    document = {"components": [{"name": "Scikit-Learn", "version": "1.0"}, {"name": "x"}]}
    assert image_sbom.components(document) == {"scikit-learn": "1.0", "x": ""}
