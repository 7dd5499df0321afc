"""`greenlight report --base <ref>`: reports/pr_comment.md, the one comment a pull request gets,
and reports/pr_figures.txt, the PNGs the workflow keeps as an artifact (the comment links none).

`render` builds the Markdown from plain data (`inputs`), `compare`, `behaviour` and `sections`
hold the base-versus-branch logic, `charts` draws it as Mermaid, `sources` reads this branch's
files and the base's from git, `base_model` gets the base's model from DVC to count flipped
predictions, `timings` times both models on this runner, `device` says what hardware ran."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from greenlight import lockcheck
from greenlight.artifacts import load_bundle
from greenlight.config import DEFAULT_PARAMS, Params
from greenlight.errors import ArtifactError, MissingInputError
from greenlight.files import read_parquet, write_text
from greenlight.manifest import read_manifest
from greenlight.paths import BUNDLE, PREDICTIONS, PROVENANCE, REPORTS, SPLIT
from greenlight.provenance import read_record
from greenlight.report import device as devices
from greenlight.report.base_model import BaseModelUnavailable, base_bundle, predicted_labels
from greenlight.report.behaviour import Flips, flip_counts
from greenlight.report.device import Device
from greenlight.report.render import ReportInputs, render
from greenlight.report.sources import base_side, figures, head_side, resolve_ref
from greenlight.report.timings import branch_predict_ms, predict_one_ms, runner_timings
from greenlight.stages.gate import gate_checks

COMMENT = REPORTS / "pr_comment.md"
FIGURE_LIST = REPORTS / "pr_figures.txt"


def gather(
    params: Params,
    base_ref: str,
    *,
    params_path: Path = DEFAULT_PARAMS,
    reports: Path = REPORTS,
    bundle: Path = BUNDLE,
    device: Device | None = None,
    base_bundle_dir: Path | None = None,
) -> ReportInputs:
    """Everything the comment shows, read once; `device` is probed unless given. The committed
    dvc.lock is compared with the workspace's, which the repro that ran before just wrote."""
    head, manifest = head_side(reports, params_path), read_manifest(bundle)
    compared = against_base(params, resolve_ref(base_ref), bundle, base_bundle_dir)
    target, head_ms = params.dataset.target, branch_predict_ms(bundle)
    return ReportInputs(
        base_ref=shown_ref(base_ref),
        base=base_side(base_ref, reports, params_path),
        head=head,
        checks=gate_checks(dict(head.metrics or {}), dict(head.fairness or {}), params),
        provenance=read_record(reports / PROVENANCE.name) or {},
        manifest=manifest,
        device=device or devices.probe(),
        figures=figures(reports, relative_to=Path()),
        flips=compared.flips,
        flips_note=compared.note,
        labels=(target.positive, target.negative),
        stale=tuple(lockcheck.check()),
        timings=runner_timings((compared.base_ms, head_ms), reports, manifest["model_version"]),
    )


def shown_ref(ref: str) -> str:
    """A full commit hash is shown by its first 12 characters, any other ref as it is."""
    is_hash = len(ref) == 40 and all(char in "0123456789abcdef" for char in ref.lower())
    return ref[:12] if is_hash else ref


@dataclass(frozen=True)
class BaseComparison:
    """This branch against the base's model: the flips and the base's one-record time, or why
    there are none."""

    flips: Flips | None = None
    base_ms: float | None = None
    note: str = ""


def against_base(params: Params, commit: str, bundle: Path, given: Path | None) -> BaseComparison:
    """Base vs branch labels on this branch's test split, counted by group, and the base model
    timed on one record; none of it when this branch's predictions are not in the workspace or
    the base's model cannot be used (the note says why)."""
    try:
        test, head = _branch_labels(bundle)
        with base_bundle(commit, bundle, given) as directory:
            model = load_bundle(directory)
            base = predicted_labels(model, test)
            base_ms = predict_one_ms(model, test)
    except (MissingInputError, BaseModelUnavailable, ArtifactError) as error:
        return BaseComparison(note=str(error))
    groups = {name: test[name] for name in params.dataset.sensitive}
    flips = flip_counts(base, head, groups, params.fairness.min_group_count)
    return BaseComparison(flips=flips, base_ms=base_ms)


def _branch_labels(bundle: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """This branch's test split and its labels, as the evaluate stage predicted them."""
    test = read_parquet(SPLIT / "test.parquet")
    scored = read_parquet(PREDICTIONS)
    return test, (scored["y_prob"].to_numpy() >= read_manifest(bundle)["threshold"]).astype(int)


def write(inputs: ReportInputs, output: Path = COMMENT) -> str:
    """Write the comment to `output` and the PNG list beside it; return the Markdown."""
    markdown = render(inputs)
    write_text(output, markdown)
    write_text(output.parent / FIGURE_LIST.name, "".join(f"{path}\n" for path in inputs.figures))
    return markdown
