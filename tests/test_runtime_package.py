"""The installed package is the runtime only: the wheel built from pyproject.toml holds the
greenlight package and nothing else (no tools/), and every module in it is imported by a runtime
entry point (the `greenlight` command, the BentoML service, a dvc.yaml stage). A benchmark, demo,
simulator or dev check added under src/ is imported by none of them, and fails here: it belongs in
tools/. The bento copies this package whole, so the same holds for the bento."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from greenlight.serving.image import SERVICE_MODULE, service_files

ROOT = Path(__file__).parents[1]
ENTRY_POINTS = (
    "greenlight.cli",
    "greenlight.__main__",
    SERVICE_MODULE,
    "greenlight.stages.__main__",
)


def stage_modules() -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values()
    return [f"greenlight.stages.{shlex.split(stage['cmd'])[1]}" for stage in stages]


def unimported(package: Path) -> list[str]:
    """The modules of `package` (a greenlight/ folder) that no runtime entry point imports."""
    reached = set()
    for root in [*ENTRY_POINTS, *stage_modules()]:
        reached.update(service_files(package, root))
    modules = {path.relative_to(package) for path in package.rglob("*.py")}
    return sorted(path.as_posix() for path in modules - reached)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of the project (the checkout stays untouched)."""
    project = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "src" / "greenlight", project / "src" / "greenlight", ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--quiet", "--wheel-dir", str(out), str(project)], check=True)
    [built] = out.glob("greenlight-*.whl")
    return built


def test_the_wheel_holds_the_greenlight_package_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"greenlight", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "greenlight/cli.py" in names


def test_every_module_of_the_wheel_is_imported_by_a_runtime_entry_point(
    wheel: Path, tmp_path: Path
) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    assert unimported(tmp_path / "greenlight") == []


def test_a_benchmark_left_in_the_package_is_found(tmp_path: Path) -> None:
    package = tmp_path / "greenlight"
    shutil.copytree(ROOT / "src" / "greenlight", package)
    (package / "serving" / "bench.py").write_text("from greenlight.serving import service\n")
    assert unimported(package) == ["serving/bench.py"]
