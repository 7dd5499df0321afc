"""`greenlight report --base <ref>`: reports/pr_comment.md, the one comment a pull request gets.

`render` builds the Markdown from plain data, `compare` holds the base-versus-branch logic,
`sources` reads this branch's files and the base's from git, `device` says what hardware ran."""

from __future__ import annotations

from pathlib import Path

from greenlight import lockcheck
from greenlight.config import DEFAULT_PARAMS, Params
from greenlight.files import write_text
from greenlight.manifest import read_manifest
from greenlight.paths import BUNDLE, PROVENANCE, REPORTS
from greenlight.provenance import read_record
from greenlight.report import device as devices
from greenlight.report.device import Device
from greenlight.report.render import ReportInputs, render
from greenlight.report.sources import base_side, figures, head_side
from greenlight.stages.gate import gate_checks

COMMENT = REPORTS / "pr_comment.md"


def gather(
    params: Params, base_ref: str, *, params_path: Path = DEFAULT_PARAMS,
    reports: Path = REPORTS, bundle: Path = BUNDLE, output: Path = COMMENT,
    device: Device | None = None,
) -> ReportInputs:  # fmt: skip
    """Everything the comment shows, read once; `device` is probed unless given. The committed
    dvc.lock is compared with the workspace's, which the repro that ran before just wrote."""
    head = head_side(reports, params_path)
    return ReportInputs(
        base_ref=base_ref,
        base=base_side(base_ref, reports, params_path),
        head=head,
        checks=gate_checks(dict(head.metrics or {}), dict(head.fairness or {}), params),
        provenance=read_record(reports / PROVENANCE.name) or {},
        manifest=read_manifest(bundle),
        device=device or devices.probe(),
        figures=figures(reports, relative_to=output.parent),
        stale=tuple(lockcheck.check()),
    )


def run(
    params: Params, base_ref: str, *, params_path: Path = DEFAULT_PARAMS,
    reports: Path = REPORTS, bundle: Path = BUNDLE, output: Path = COMMENT,
    device: Device | None = None,
) -> str:  # fmt: skip
    """Write the comment to `output` and return its Markdown."""
    inputs = gather(
        params, base_ref, params_path=params_path, reports=reports, bundle=bundle,
        output=output, device=device,
    )  # fmt: skip
    markdown = render(inputs)
    write_text(output, markdown)
    return markdown
