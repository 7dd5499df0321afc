"""`make bench-pipeline`: the pipeline's speed and quality figures, written to
reports/bench_pipeline.json.

- a full `dvc repro` (hgb, every stage) and a no-op `dvc repro` against `dvc version`, timed in a
  scratch copy of the repository so the working tree is left alone;
- test-split quality of every model kind on the full data, against the published bands
  (above 0.885 accuracy would mean leakage)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from greenlight.config import load_params
from greenlight.files import write_json

ROOT = Path.cwd()
COPIED = ("dvc.yaml", "params.yaml", "schema.yaml", "requirements.lock", "bin", "src", "data")
TARGETS = {  # model kind -> (minimum accuracy, minimum ROC AUC)
    "hgb": (0.870, 0.925),
    "logreg": (0.840, 0.890),
    "mlp": (0.850, 0.900),
}
LEAKAGE_ACCURACY = 0.885


def timed(command: list[str], cwd: Path) -> float:
    bin_dir = Path(sys.executable).parent
    env = os.environ | {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GREENLIGHT_PYTHON": sys.executable,  # bin/stage: the scratch copy has no .venv
    }
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def scratch_copy(target: Path) -> Path:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    return target


def dvc_timings(repo: Path, repeats: int = 5) -> dict[str, float]:
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "init", "-q"], cwd=repo, check=True)
    full = timed([dvc, "repro"], repo)
    noop = statistics.median(timed([dvc, "repro"], repo) for _ in range(repeats))
    version = statistics.median(timed([dvc, "version"], repo) for _ in range(repeats))
    return {
        "full_repro_s": round(full, 2),
        "noop_repro_s": round(noop, 3),
        "dvc_version_s": round(version, 3),
        "noop_over_version": round(noop / version, 2),
    }


def model_quality(kind: str, workdir: Path) -> dict[str, Any]:
    """Train and evaluate one model kind on the full data, in-process, inside `workdir`."""
    from greenlight.stages import evaluate, featurize, train, validate  # noqa: PLC0415

    params = load_params(ROOT / "params.yaml")
    params = params.model_copy(update={"train": params.train.model_copy(update={"model": kind})})
    files = {
        s: f.model_copy(update={"path": str(ROOT / f.path)})
        for s, f in params.dataset.files.items()
    }
    params = params.model_copy(
        update={"dataset": params.dataset.model_copy(update={"files": files})}
    )
    os.chdir(workdir)
    try:
        validate.run(params.dataset)
        featurize.run(params)
        trained = train.run(params)
        metrics = evaluate.run(params)
    finally:
        os.chdir(ROOT)
    return _verdict(kind, metrics, trained["seconds"], trained["device"])


def _verdict(kind: str, metrics: dict, seconds: float, device: str) -> dict[str, Any]:
    min_accuracy, min_auc = TARGETS[kind]
    accuracy, auc = metrics["accuracy"], metrics["roc_auc"]
    targets = {
        "min_accuracy": min_accuracy,
        "min_roc_auc": min_auc,
        "max_accuracy": LEAKAGE_ACCURACY,
    }
    return {
        "accuracy": accuracy,
        "roc_auc": auc,
        "f1": metrics["f1"],
        "log_loss": metrics["log_loss"],
        "train_seconds": seconds,
        "device": device,
        "targets": targets,
        "meets_targets": min_accuracy <= accuracy <= LEAKAGE_ACCURACY and auc >= min_auc,
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        timings = dvc_timings(scratch_copy(Path(scratch)))
    models = {}
    for kind in TARGETS:
        with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as workdir:
            models[kind] = model_quality(kind, Path(workdir))
    timings["meets_targets"] = timings["full_repro_s"] < 120 and timings["noop_over_version"] <= 2
    result = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "dvc": timings,
        "models": models,
    }
    write_json(ROOT / "reports" / "bench_pipeline.json", result)
    print(result)
    return 0 if timings["meets_targets"] and all(m["meets_targets"] for m in models.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
