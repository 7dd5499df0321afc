"""The 20-line rule: no function or method body is longer than MAX_LINES lines, counted from the
line after the signature to the function's last line, docstring excluded.

Usage: python -m tools.devtools.function_length [--max N] PATH...   (files or folders)
Prints `path:line name length` per violation and exits 1 if there is any."""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_LINES = 20


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    name: str
    length: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.name} {self.length}"


def body_length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the signature (docstring skipped) to the end."""
    body = node.body
    if len(body) > 1 and _is_docstring(body[0]):
        body = body[1:]
    return node.end_lineno - body[0].lineno + 1


def violations(source: str, path: Path, limit: int = MAX_LINES) -> Iterator[Violation]:
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = body_length(node)
            if length > limit:
                yield Violation(path, node.lineno, node.name, length)


def python_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.suffix == ".py":
            yield path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--max", type=int, default=MAX_LINES, help="longest allowed body")
    args = parser.parse_args(argv)
    found = [
        v for file in python_files(args.paths) for v in violations(file.read_text(), file, args.max)
    ]
    for violation in found:
        print(violation)
    return 1 if found else 0


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


if __name__ == "__main__":
    sys.exit(main())
