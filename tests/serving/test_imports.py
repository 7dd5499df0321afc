"""A scikit-learn bundle is served without torch: skops' import would otherwise pull it in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PipelineRun
from greenlight.serving.imports import refused

pytestmark = pytest.mark.slow

# In a fresh interpreter, as a worker runs: the service module, then the engine (bundle loaded,
# known answers reproduced); prints whether torch (and, after the module, scikit-learn or pandas)
# was imported at each step.
PROBE = """
import sys
import greenlight.serving.service as service
print("torch" in sys.modules)
print("sklearn" in sys.modules or "pandas" in sys.modules)
engine = service._engine_module().Engine.start(service.SETTINGS)
print("torch" in sys.modules)
print(sorted({"pytest", "pyarrow"} & set(sys.modules)))
engine.close()
"""


def test_a_refused_module_cannot_be_imported_inside_the_block_only() -> None:
    with refused("greenlight_no_such_module"), pytest.raises(ModuleNotFoundError, match="refused"):
        __import__("greenlight_no_such_module.sub")
    with pytest.raises(ModuleNotFoundError, match="No module named"):
        __import__("greenlight_no_such_module")


def test_no_torch_in_a_serving_process_for_a_scikit_learn_bundle(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    pytest.importorskip("torch")  # without torch installed there is nothing to keep out
    environment = {
        "GREENLIGHT_BUNDLE": str(pipeline_run.bundle),
        "GREENLIGHT_PREDICTION_LOG": str(tmp_path / "p.jsonl"),
    }
    command = [sys.executable, "-c", PROBE]
    env = {**os.environ, **environment}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, check=True
    )
    # the service module alone (what BentoML's supervisor imports) loads neither torch nor
    # scikit-learn nor pandas; the worker's engine loads scikit-learn and still no torch, and
    # neither pytest (skops' scan) nor pyarrow (pandas)
    assert result.stdout.splitlines() == ["False", "False", "False", "[]"], result.stderr[-2000:]
