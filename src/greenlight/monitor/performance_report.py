"""The live performance reports: `performance.json` (machine-readable), `performance.md` (a short
summary, fit for an issue body: attributes and differences, never a group's value) and
`performance.html` (the same summary as a page), and `performance-issue.md`, the summary without
its fairness table, which the `performance` issue shows (it never names a sensitive attribute).
Atomic writes, like the drift reports."""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from greenlight.files import write_json, write_text
from greenlight.markdown import table
from greenlight.monitor.performance import NOT_ENOUGH, Check, Figures

REPORT_FORMAT = 1
FILES = ("performance.html", "performance.json", "performance.md", "performance-issue.md")
DIFFERENCES = ("demographic_parity_difference", "equalized_odds_difference")
NO_FAIRNESS = (
    "Fairness by group: not computed. The prediction and outcome logs never hold sensitive "
    "attributes; pass the separate, access-controlled file that does (`--sensitive FILE`: "
    "request_id, record and the sensitive columns) to measure it."
)
# The issue never names a sensitive attribute, whatever the run was given
ISSUE_FAIRNESS = "Fairness by group: in the run's reports when measured, never in an issue."


@dataclass(frozen=True)
class PerformanceResult:
    verdict: str  # performance.FINE, DEGRADED or NOT_ENOUGH
    figures: Figures
    checks: tuple[Check, ...]
    fairness: dict[str, dict[str, Any]] | None  # None: no sensitive-attribute file given
    context: dict[str, Any]

    @property
    def degraded(self) -> bool:
        return self.verdict == "degraded"


def write_reports(reports: Path, result: PerformanceResult) -> None:
    summary = performance_markdown(result)
    write_json(reports / "performance.json", performance_json(result))
    write_text(reports / "performance.md", summary)
    write_text(reports / "performance.html", page(summary))
    write_text(reports / "performance-issue.md", performance_markdown(result, for_issue=True))


def performance_json(result: PerformanceResult) -> dict[str, Any]:
    checks = [
        {**asdict(check), "change": check.change, "degraded": check.degraded}
        for check in result.checks
    ]
    return {
        "format": REPORT_FORMAT,
        "verdict": result.verdict,
        "degraded": result.degraded,
        "figures": asdict(result.figures),
        "checks": checks,
        "fairness": result.fairness,
        "fairness_note": NO_FAIRNESS if result.fairness is None else None,
        **result.context,
    }


def performance_markdown(result: PerformanceResult, *, for_issue: bool = False) -> str:
    """The summary; `for_issue`: without the fairness table (it names sensitive attributes)."""
    context = result.context
    fairness = [ISSUE_FAIRNESS] if for_issue else _fairness_lines(result.fairness)
    lines = [
        f"## Live performance: {result.verdict} (model `{context['model_version']}`)",
        "",
        _count_line(result),
        "",
        _checks_table(result.checks),
        "",
        *fairness,
        "",
        f"Outcomes of predictions outside the window or of other model versions, left out: "
        f"{context['outcomes_outside_window']:,}. Test figures: `{context['metrics']}`.",
    ]
    return "\n".join(lines) + "\n"


def _count_line(result: PerformanceResult) -> str:
    context = result.context
    line = (
        f"**{result.figures.count:,} labelled predictions** of {context['predictions']:,} in "
        f"{context['window']} ({context['first_prediction']} to {context['last_prediction']})."
    )
    if result.verdict == NOT_ENOUGH:
        line += (
            f" Not enough outcomes to judge: at least {context['min_outcomes']:,} are needed "
            "(`monitor.performance.min_outcomes`); the figures below are shown, not judged."
        )
    return line


def _checks_table(checks: tuple[Check, ...]) -> str:
    rows = [
        (
            f"`{check.figure}`",
            check.live,
            check.test,
            check.change,
            f"{check.direction} > {check.limit}",
            "**yes**" if check.degraded else "no",
        )
        for check in checks
    ]
    return table(["figure", "live", "model's test", "change", "limit", "degraded"], rows)


def _fairness_lines(fairness: dict[str, dict[str, Any]] | None) -> list[str]:
    if fairness is None:
        return [NO_FAIRNESS]
    rows = [
        (
            f"`{name}`",
            values["records"],
            values["groups_compared"],
            values["groups_too_small"],
            *(values[difference] for difference in DIFFERENCES),
        )
        for name, values in fairness.items()
    ]
    headers = ["attribute", "outcomes", "groups compared", "groups too small", *DIFFERENCES]
    return ["Fairness by sensitive attribute (live outcomes):", "", table(headers, rows)]


def page(summary: str) -> str:
    """The markdown summary as a small HTML page: headings, tables, paragraphs."""
    blocks = [block.strip() for block in summary.split("\n\n") if block.strip()]
    body = "\n".join(_html_block(block) for block in blocks)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>Live performance</title>'
        "<style>body{font-family:sans-serif;max-width:60em}td{padding:0 .6em}</style>"
        f"</head><body>\n{body}\n</body></html>\n"
    )


def _html_block(block: str) -> str:
    if block.startswith("## "):
        return f"<h2>{_inline(block[3:])}</h2>"
    if block.startswith("|"):
        rows = [line for line in block.splitlines() if not line.startswith("|---")]
        return "<table>" + "".join(_html_row(row) for row in rows) + "</table>"
    return f"<p>{_inline(block)}</p>"


def _html_row(line: str) -> str:
    cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
    return "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in cells) + "</tr>"


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)
