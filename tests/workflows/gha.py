"""A small model of GitHub Actions, enough to ask the workflow files what they do: an evaluator for
`${{ }}` expressions (the subset the workflows use: contexts, literals, ! == != < > && ||,
parentheses, and the functions below) and a scheduler that decides, job by job in `needs` order,
which jobs run for a given event, variables and job results, as GitHub does.

Semantics follow GitHub's documentation: `&&`/`||` return an operand, falsy values are false,
0, '' and null; `==` compares strings case-insensitively and coerces mixed types to numbers; a
missing property is null; a job without `if:` runs on `success()` of its needs; a job whose needs
did not all succeed is skipped unless its `if:` calls a status function."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|'(?P<str>(?:[^']|'')*)'|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
STATUS_FUNCTIONS = ("success", "failure", "cancelled", "always")
WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


class ExpressionError(ValueError):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read {text[position:]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        found.append((kind, value.replace("''", "'") if kind == "str" else value))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return found


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", 0.0)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else 0.0
        except ValueError:
            return float("nan")
    return float("nan")


def equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right) or left is None or right is None:
        if left is None or right is None:
            return left is right or _number(left) == _number(right)
        return left == right
    return _number(left) == _number(right)


def _from_json(text: Any) -> Any:
    return json.loads(str(text))


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(equal(item, needle) for item in haystack)
    return str(needle).lower() in str(haystack).lower()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "fromJSON": _from_json,
    "toJSON": json.dumps,
    "contains": _contains,
    "startsWith": lambda text, prefix: str(text).lower().startswith(str(prefix).lower()),
    "endsWith": lambda text, suffix: str(text).lower().endswith(str(suffix).lower()),
    "format": lambda template, *args: re.sub(
        r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]), str(template)
    ),
}


class Parser:
    """Recursive descent: or -> and -> comparison -> unary -> primary (postfix . and [])."""

    def __init__(self, text: str, context: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.items = tokens(text)
        self.at = 0
        self.context, self.status = context, status

    def parse(self) -> Any:
        value = self._or()
        if self.at != len(self.items):
            raise ExpressionError(f"unexpected {self.items[self.at]}")
        return value

    def _peek(self) -> tuple[str, str] | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        item = self._peek()
        if item is None or (value is not None and item[1] != value):
            raise ExpressionError(f"expected {value!r}, found {item}")
        self.at += 1
        return item

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == ("op", "||"):
            self._take()
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._compare()
        while self._peek() == ("op", "&&"):
            self._take()
            right = self._compare()
            value = right if truthy(value) else value
        return value

    def _compare(self) -> Any:
        value = self._unary()
        while self._peek() in (("op", "=="), ("op", "!="), ("op", "<"), ("op", ">")):
            operator = self._take()[1]
            right = self._unary()
            if operator in ("==", "!="):
                value = equal(value, right) == (operator == "==")
            else:
                value = (_number(value) < _number(right)) == (operator == "<")
        return value

    def _unary(self) -> Any:
        if self._peek() == ("op", "!"):
            self._take()
            return not truthy(self._unary())
        return self._postfix(self._primary())

    def _primary(self) -> Any:
        kind, value = self._take()
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "str":
            return value
        if (kind, value) == ("op", "("):
            inner = self._or()
            self._take(")")
            return inner
        if kind != "name":
            raise ExpressionError(f"unexpected {value!r}")
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if self._peek() == ("op", "("):
            return self._call(value)
        return self.context.get(value)

    def _call(self, name: str) -> Any:
        self._take("(")
        args = []
        while self._peek() != ("op", ")"):
            args.append(self._or())
            if self._peek() == ("op", ","):
                self._take()
        self._take(")")
        if name in STATUS_FUNCTIONS:
            return self.status[name]
        if name not in FUNCTIONS:
            raise ExpressionError(f"function {name}() is not modelled")
        return FUNCTIONS[name](*args)

    def _postfix(self, value: Any) -> Any:
        while self._peek() in (("op", "."), ("op", "[")):
            if self._take()[1] == ".":
                key: Any = self._take()[1]
            else:
                key = self._or()
                self._take("]")
            value = value.get(key) if isinstance(value, dict) else None
        return value


def evaluate(
    text: str, context: Mapping[str, Any], status: Mapping[str, bool] | None = None
) -> Any:
    """An expression, with or without its ${{ }}."""
    inner = text.strip()
    if inner.startswith("${{") and inner.endswith("}}") and inner.count("${{") == 1:
        inner = inner[3:-2]
    default = {"success": True, "failure": False, "cancelled": False, "always": True}
    return Parser(inner, context, status or default).parse()


def interpolate(value: Any, context: Mapping[str, Any]) -> Any:
    """A YAML value with each ${{ }} replaced (a lone expression keeps its type)."""
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = re.fullmatch(r"\s*\$\{\{(.*?)\}\}\s*", value, re.DOTALL)
    if whole:
        return evaluate(whole.group(1), context)
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _text(evaluate(m.group(1), context)), value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


# --- workflows and their jobs ----------------------------------------------------------------


def load(name: str | Path) -> dict[str, Any]:
    path = name if isinstance(name, Path) else WORKFLOWS / name
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict[str, Any]) -> set[str]:
    events = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    return {events} if isinstance(events, str) else set(events)


def needs(job: dict[str, Any]) -> list[str]:
    found = job.get("needs", [])
    return [found] if isinstance(found, str) else list(found)


@dataclass
class Run:
    """One simulated run: which jobs ran, their results, and each job's evaluated context."""

    results: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ran(self, job: str) -> bool:
        return self.results[job] != "skipped"


def order(workflow: dict[str, Any]) -> list[str]:
    jobs, done = workflow["jobs"], []
    while len(done) < len(jobs):
        ready = [n for n, j in jobs.items() if n not in done and set(needs(j)) <= set(done)]
        if not ready:
            raise ExpressionError("the needs graph has a cycle")
        done.extend(ready)
    return done


def job_context(run: Run, job: dict[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    needed = {n: {"result": run.results[n], "outputs": run.outputs.get(n, {})} for n in needs(job)}
    return {**base, "needs": needed}


def job_status(run: Run, job: dict[str, Any]) -> dict[str, bool]:
    results = [run.results[n] for n in needs(job)]
    return {
        "success": all(r == "success" for r in results),
        "failure": any(r == "failure" for r in results),
        "cancelled": False,
        "always": True,
    }


def simulate(
    workflow: dict[str, Any],
    context: Mapping[str, Any],
    results: Mapping[str, str] | None = None,
    outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Run:
    """Which jobs run. A job that runs ends with `results[job]` (default success) and, when it
    succeeds or fails, exposes `outputs[job]` (what its steps would have written)."""
    run = Run()
    for name in order(workflow):
        job = workflow["jobs"][name]
        status = job_status(run, job)
        condition = _text(job.get("if", "success()"))  # YAML reads `if: true` as a bool
        expression = (
            condition
            if re.search(r"\b(success|failure|cancelled|always)\(", condition)
            else f"success() && ({condition})"
        )
        runs = truthy(evaluate(expression, job_context(run, job, context), status))
        run.results[name] = (results or {}).get(name, "success") if runs else "skipped"
        run.outputs[name] = dict((outputs or {}).get(name, {})) if runs else {}
    return run


def event(
    name: str,
    repository: str = "acme/shop",
    head: str | None = None,
    variables: Mapping[str, str] | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The contexts of a run: github (with the payload), vars, inputs, secrets (empty)."""
    payload: dict[str, Any] = {}
    if name == "pull_request":
        head_repo = {"full_name": head or repository}
        base = {"repo": {"full_name": repository}, "sha": "b" * 40}
        payload = {"pull_request": {"number": 7, "head": {"repo": head_repo}, "base": base}}
    github = {
        "event_name": name,
        "repository": repository,
        "event": payload,
        "sha": "a" * 40,
        "token": "***",
        "run_id": "1",
        "server_url": "https://github.com",
    }
    return {"github": github, "vars": dict(variables or {}), "inputs": dict(inputs or {}),
            "secrets": {}, "env": {}}  # fmt: skip


def steps_of(
    job: dict[str, Any], context: Mapping[str, Any], step_outputs: Mapping[str, Mapping[str, str]]
) -> list[dict[str, Any]]:
    """The steps that run (each `if:` evaluated, earlier steps' outputs as given)."""
    steps_context: dict[str, Any] = {}
    ran = []
    for step in job.get("steps", []):
        full = {**context, "steps": steps_context}
        if "if" in step and not truthy(evaluate(_text(step["if"]), full)):
            continue
        ran.append(step)
        if "id" in step:
            steps_context[step["id"]] = {
                "outputs": dict(step_outputs.get(step["id"], {})),
                "outcome": "success",
            }
    return ran


def step_env(
    workflow: dict[str, Any], job: dict[str, Any], step: dict[str, Any], context: Mapping[str, Any]
) -> dict[str, str]:
    env: dict[str, str] = {}
    for level in (workflow.get("env", {}), job.get("env", {}), step.get("env", {})):
        for key, value in level.items():
            env[key] = _text(interpolate(value, {**context, "env": env}))
    return env
