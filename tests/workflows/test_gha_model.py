"""The workflow model itself (gha.py) against GitHub's documented expression semantics, so the
behaviour tests cannot pass on an evaluator that reads every condition as true."""

from __future__ import annotations

import pytest
from gha import evaluate, event, interpolate, simulate

CONTEXT = {
    "github": {"event": {"pull_request": {"head": {"repo": {"full_name": "a/b"}}}}, "x": ""},
    "vars": {"EMPTY": "", "LABELS": '["self-hosted","gpu"]'},
    "needs": {"repro": {"result": "skipped", "outputs": {"report": ""}}},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event.pull_request.head.repo.full_name == 'A/B'", True),  # case-insensitive
        ("github.event.pull_request.head.repo.full_name != 'a/b'", False),
        ("vars.MISSING || 'fallback'", "fallback"),
        ("vars.EMPTY == ''", True),
        ("vars.MISSING == ''", True),  # null coerces to 0, '' too
        ("!cancelled() && needs.repro.outputs.report != ''", False),
        ("needs.repro.result == 'skipped' && 'yes' || 'no'", "yes"),
        ("fromJSON(vars.LABELS)", ["self-hosted", "gpu"]),
        ("fromJSON(vars.EMPTY || '\"ubuntu-latest\"')", "ubuntu-latest"),
        ("contains(fromJSON(vars.LABELS), 'GPU')", True),
        ("github['x'] || 0", 0),
        ("(1 == 1) && !(2 == 3)", True),
    ],
)
def test_expressions_follow_githubs_rules(expression: str, expected: object) -> None:
    assert evaluate(expression, CONTEXT) == expected


def test_interpolation_keeps_a_lone_expressions_type_and_formats_the_rest() -> None:
    assert interpolate("${{ fromJSON(vars.LABELS) }}", CONTEXT) == ["self-hosted", "gpu"]
    assert interpolate("pr-${{ needs.repro.result }}", CONTEXT) == "pr-skipped"


WORKFLOW = {
    "jobs": {
        "a": {"if": "github.event_name == 'push'"},
        "b": {"needs": "a"},
        "c": {"needs": ["a"], "if": "${{ always() }}"},
        "d": {"needs": ["a"], "if": "failure()"},
    }
}


def test_skipped_needs_skip_dependants_unless_a_status_function_says_otherwise() -> None:
    run = simulate(WORKFLOW, event("pull_request"))
    assert run.results == {"a": "skipped", "b": "skipped", "c": "success", "d": "skipped"}
    run = simulate(WORKFLOW, event("push"), results={"a": "failure"})
    assert run.results == {"a": "failure", "b": "skipped", "c": "success", "d": "success"}
