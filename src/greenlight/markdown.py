"""Tiny Markdown helpers shared by the model card and the PR report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def pass_fail(passed: bool) -> str:
    return "pass" if passed else "**FAIL**"


def too_small_row(name: str, values: Mapping[str, Any], width: int, minimum: Any) -> tuple:
    """A group too small to judge: its count, the reason, and blanks where its rates would be."""
    reason = f"too small to judge (< {minimum} records)" if minimum else "too small to judge"
    return (name, values.get("count"), reason, *([""] * (width - 3)))


def interval(bounds: Sequence[float] | None) -> str:
    return "n/a" if not bounds else f"[{bounds[0]:.4f}, {bounds[1]:.4f}]"
