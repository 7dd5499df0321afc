"""The stage-deps tool: every module a stage's command imports must be in its deps. A dep removed
from a stage fails, naming the stage, the module and how the stage reaches it."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from tools.devtools import stage_deps
from tools.devtools.stage_deps import Package, StageDepsError, missing_deps

REAL = yaml.safe_load((ROOT / "dvc.yaml").read_text())


def write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A greenlight package with a runner, one stage, and imports of every kind."""
    write(tmp_path, "src/greenlight/__init__.py", '"""doc"""\n__version__ = "1"\n')
    write(tmp_path, "src/greenlight/stages/__init__.py", '"""stages"""\n')
    write(tmp_path, "src/greenlight/stages/__main__.py", "from greenlight import config\n")
    write(tmp_path, "src/greenlight/config.py", "import os\n")
    write(
        tmp_path,
        "src/greenlight/stages/fit.py",
        """
        from greenlight.models import build
        from . import helpers

        def main(params):
            from greenlight.lazy import thing  # a lazy import counts
            return thing
    """,
    )
    write(tmp_path, "src/greenlight/stages/helpers.py")
    write(tmp_path, "src/greenlight/lazy.py", "import greenlight.deep.leaf\n")
    write(tmp_path, "src/greenlight/deep/__init__.py", '"""doc"""\n')
    write(tmp_path, "src/greenlight/deep/leaf.py")
    write(
        tmp_path, "src/greenlight/models/__init__.py", "from greenlight.models.core import build\n"
    )
    write(tmp_path, "src/greenlight/models/core.py")
    write(tmp_path, "src/greenlight/unrelated.py")
    return tmp_path


FULL_DEPS = [
    "src/greenlight/stages/__main__.py",
    "src/greenlight/stages/fit.py",
    "src/greenlight/stages/helpers.py",
    "src/greenlight/config.py",
    "src/greenlight/lazy.py",
    "src/greenlight/deep/leaf.py",
    "src/greenlight/models",
]


def toy_yaml(deps: list[str]) -> dict:
    return {"stages": {"fit": {"cmd": "bin/stage fit", "deps": ["data", *deps]}}}


def test_a_stage_that_lists_its_closure_passes_and_a_folder_covers_its_modules(toy: Path) -> None:
    assert missing_deps(toy_yaml(FULL_DEPS), Package(toy / "src"), toy) == []


@pytest.mark.parametrize(
    ("removed", "module"),
    [
        ("src/greenlight/deep/leaf.py", "greenlight.deep.leaf"),  # reached through a lazy import
        ("src/greenlight/stages/helpers.py", "greenlight.stages.helpers"),  # relative import
        ("src/greenlight/config.py", "greenlight.config"),  # through the runner
    ],
)
def test_a_removed_dep_is_named_with_the_stage_and_the_import_path(
    toy: Path, removed: str, module: str
) -> None:
    deps = [dep for dep in FULL_DEPS if dep != removed]
    [problem] = missing_deps(toy_yaml(deps), Package(toy / "src"), toy)
    assert (problem.stage, problem.module, problem.path) == ("fit", module, removed)
    assert problem.chain[-1] == module
    assert f"stage 'fit' imports {module} ({removed})" in str(problem)


def test_an_init_that_runs_code_counts_and_one_of_constants_does_not(toy: Path) -> None:
    write(toy, "src/greenlight/deep/__init__.py", "import logging\nLOG = logging.getLogger()\n")
    [problem] = missing_deps(toy_yaml(FULL_DEPS), Package(toy / "src"), toy)
    assert problem.path == "src/greenlight/deep/__init__.py"


def test_a_command_the_tool_cannot_follow_is_an_error_that_says_the_form(toy: Path) -> None:
    dvc_yaml = {"stages": {"fit": {"cmd": "greenlight fit", "deps": FULL_DEPS}}}
    with pytest.raises(StageDepsError, match="a stage command is `bin/stage <name>`"):
        missing_deps(dvc_yaml, Package(toy / "src"), toy)
    dvc_yaml = {"stages": {"fit": {"cmd": "bin/stage fitt", "deps": FULL_DEPS}}}
    with pytest.raises(StageDepsError, match=r"greenlight\.stages\.fitt"):
        missing_deps(dvc_yaml, Package(toy / "src"), toy)


def test_the_real_pipeline_fails_when_a_stage_loses_a_dep() -> None:
    broken = copy.deepcopy(REAL)
    broken["stages"]["train"]["deps"].remove("src/greenlight/features.py")
    problems = missing_deps(broken, Package(ROOT / "src"), ROOT)
    assert [(p.stage, p.path) for p in problems] == [("train", "src/greenlight/features.py")]


def test_a_new_stage_is_followed_without_any_change_to_the_tool(toy: Path) -> None:
    write(toy, "src/greenlight/stages/explain.py", "from greenlight import lazy\n")
    dvc_yaml = toy_yaml(FULL_DEPS)
    dvc_yaml["stages"]["explain"] = {"cmd": "bin/stage explain --params p.yaml", "deps": []}
    paths = {p.path for p in missing_deps(dvc_yaml, Package(toy / "src"), toy)}
    assert "src/greenlight/stages/explain.py" in paths and "src/greenlight/lazy.py" in paths


def test_the_command_line_exits_1_and_prints_each_problem(toy: Path) -> None:
    (toy / "dvc.yaml").write_text(yaml.safe_dump(toy_yaml(FULL_DEPS[:-1])))
    done = subprocess.run(
        [sys.executable, "-m", "tools.devtools.stage_deps", "--dvc-yaml", "dvc.yaml"],
        cwd=toy,
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        },  # tools/: from the root
    )
    assert done.returncode == 1
    assert (
        "stage 'fit' imports greenlight.models.core (src/greenlight/models/core.py)" in done.stdout
    )
    assert stage_deps.main(["--dvc-yaml", str(ROOT / "dvc.yaml"), "--src", str(ROOT / "src")]) == 0
