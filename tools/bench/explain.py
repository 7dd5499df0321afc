"""`make bench-explain`: what an explanation costs next to the prediction it explains, in-process,
one record at a time, on one thread (as the service runs its model), with the unexplained call as
the peer in the same run, alternating call by call so machine noise hits both alike. Writes
reports/explain_bench.json:

- model only: one encoded record, `predict_proba` vs `predict_proba` + `explain_encoded` (the
  encoding is the same code for both, so this is the largest ratio an explained answer can have);
- through the pipeline's preprocessor: raw record -> ColumnTransformer -> model, with and without
  the explanation;
- what the explainer adds to a service: building it, importing shap (a fresh interpreter that
  has already imported the rest of the serving closure), and the installed size of shap and the
  packages it brings (numba, llvmlite, slicer) next to scikit-learn's.

Run from the repository root: `python -m tools.bench.explain [--bundle models/bundle]`."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from greenlight.artifacts import Bundle, load_bundle
from greenlight.explain import MAX_COALITIONS, Explainer
from greenlight.features import to_model_frame, transform
from greenlight.files import read_parquet, write_json
from greenlight.paths import BUNDLE, REPORTS, SPLIT

OUTPUT = REPORTS / "explain_bench.json"
REPEATS = 500  # calls of each kind, alternating
RECORDS = 200  # distinct test records, cycled
GOAL_RATIO = 5.0  # explained within 5x of unexplained (issue 15)
SIZED = ("shap", "numba", "llvmlite", "slicer", "scikit-learn")  # what shap adds; a peer
IMPORT_PROBE = (
    "import time, numpy, pandas, sklearn.ensemble, sklearn.linear_model, skops.io; "
    "started = time.perf_counter(); import shap; print(time.perf_counter() - started)"
)


def alternate(calls: dict[str, Any], repeats: int) -> dict[str, dict[str, float]]:
    """Each call `repeats` times, interleaved; p50 and p95 of each in ms. A call takes the index."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    with threadpool_limits(limits=1):
        for index in range(repeats):
            for name, call in calls.items():
                started = time.perf_counter()
                call(index)
                times[name].append(time.perf_counter() - started)
    return {name: _percentiles(values) for name, values in times.items()}


def model_only(bundle: Bundle, explainer: Explainer, rows: np.ndarray) -> dict[str, Any]:
    def predict(i: int) -> object:
        return bundle.estimator.predict_proba(rows[i % len(rows)][None, :])

    def explained(i: int) -> object:
        row = rows[i % len(rows)][None, :]
        return bundle.estimator.predict_proba(row), explainer.explain_encoded(row)

    return _with_ratio(alternate({"predict": predict, "predict_and_explain": explained}, REPEATS))


def through_preprocessor(bundle: Bundle, explainer: Explainer, frames: list) -> dict[str, Any]:
    def encode(i: int) -> np.ndarray:
        frame = frames[i % len(frames)]
        return transform(bundle.preprocessor, to_model_frame(frame, bundle.spec, bundle.features))

    def predict(i: int) -> object:
        return bundle.estimator.predict_proba(encode(i))

    def explained(i: int) -> object:
        x = encode(i)
        return bundle.estimator.predict_proba(x), explainer.explain_encoded(x)

    return _with_ratio(
        alternate({"predict": predict, "predict_and_explain": explained}, REPEATS // 5)
    )


def import_seconds(repeats: int = 3) -> float:
    """Median seconds `import shap` adds once the rest of the serving closure is imported."""
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return round(sorted(runs)[len(runs) // 2], 3)


def installed_mib(names: tuple[str, ...]) -> dict[str, float]:
    sizes = {}
    for name in names:
        files = metadata.distribution(name).files or []
        sizes[name] = round(
            sum(file.locate().stat().st_size for file in files if file.locate().is_file()) / 2**20,
            1,
        )
    return sizes


def run(bundle_dir: Path, max_coalitions: int = MAX_COALITIONS, output: Path = OUTPUT) -> dict:
    bundle = load_bundle(bundle_dir)
    test = read_parquet(SPLIT / "test.parquet").head(RECORDS)
    explainer, build = _timed_explainer(bundle, max_coalitions)
    rows = transform(bundle.preprocessor, to_model_frame(test, bundle.spec, bundle.features))
    result = {
        "model": bundle.manifest["model"]["kind"],
        "model_version": bundle.version,
        "repeats": REPEATS,
        "records": len(test),
        "goal_ratio": GOAL_RATIO,
        "model_only_ms": model_only(bundle, explainer, rows),
        "through_preprocessor_ms": through_preprocessor(
            bundle, explainer, [test.iloc[[i]] for i in range(len(test))]
        ),
        "explainer_build_s": round(build, 3),
        "max_coalitions": max_coalitions,
    }
    result |= {"shap_import_s": import_seconds(), "installed_mib": installed_mib(SIZED)}
    write_json(output, result)
    return result


def _timed_explainer(bundle: Bundle, max_coalitions: int) -> tuple[Explainer, float]:
    started = time.perf_counter()
    explainer = Explainer(bundle, max_coalitions)
    return explainer, time.perf_counter() - started


def _percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {
        "p50": round(float(np.percentile(values, 50)), 4),
        "p95": round(float(np.percentile(values, 95)), 4),
    }


def _with_ratio(measured: dict[str, dict[str, float]]) -> dict[str, Any]:
    ratio = measured["predict_and_explain"]["p50"] / measured["predict"]["p50"]
    return {**measured, "ratio_p50": round(ratio, 3), "within_goal": ratio <= GOAL_RATIO}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=BUNDLE)
    parser.add_argument("--max-coalitions", type=int, default=MAX_COALITIONS, help="mlp, logreg")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args()
    result = run(arguments.bundle, arguments.max_coalitions, arguments.output)
    for key in ("model_only_ms", "through_preprocessor_ms", "explainer_build_s", "shap_import_s"):
        print(f"{key}: {result[key]}")
    print(f"installed MiB: {result['installed_mib']}; written to {arguments.output}")


if __name__ == "__main__":
    main()
