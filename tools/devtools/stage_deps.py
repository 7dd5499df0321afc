"""Stage code deps that cannot drift: each dvc.yaml stage must list, in its `deps`, every module of
the greenlight package that its command imports, directly or through other modules (lazy imports
inside functions included). A listed folder covers the modules below it.

A stage command is `bin/stage <name>`, which runs greenlight.stages.<name> through
greenlight.stages.__main__ (see stages/runner.py); the tool follows both from there, so a new
stage needs nothing here. A package's `__init__.py` runs on every import below it: it counts when
it holds more than a docstring, `__future__` imports and constant assignments (nothing else in it
can change a stage's result), or when a module imports a name from it.

Usage: python -m tools.devtools.stage_deps [--dvc-yaml dvc.yaml] [--src src]
Prints one line per module a stage imports but does not list, and exits 1 if there is any."""

from __future__ import annotations

import argparse
import ast
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

PACKAGE = "greenlight"
LAUNCHER = "bin/stage"
RUNNER = "greenlight.stages.__main__"


@dataclass(frozen=True)
class Missing:
    stage: str
    module: str
    path: str  # the module's file, as dvc.yaml would list it
    chain: tuple[str, ...]  # how the stage's command reaches it

    def __str__(self) -> str:
        via = " -> ".join(self.chain)
        return (
            f"dvc.yaml: stage '{self.stage}' imports {self.module} ({self.path}), "
            f"which its deps do not cover; add it (or its folder) to the deps. Import path: {via}"
        )


class StageDepsError(ValueError):
    """dvc.yaml names a stage whose command the tool cannot follow."""


def entry_modules(stage: str, cmd: str) -> list[str]:
    """The modules a stage's command runs: `bin/stage <name> [options]`."""
    words = shlex.split(cmd)
    if len(words) < 2 or words[0] != LAUNCHER:
        raise StageDepsError(
            f"dvc.yaml: stage '{stage}' runs {cmd!r}; a stage command is `{LAUNCHER} <name>` "
            "(greenlight/stages/<name>.py), so that its code deps can be checked"
        )
    return [RUNNER, f"{PACKAGE}.stages.{words[1]}"]


class Package:
    """The greenlight modules under `src`, their files and what each imports."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self._imports: dict[str, set[str]] = {}

    def file(self, module: str) -> Path | None:
        base = self.src.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def imports(self, module: str) -> set[str]:
        if module not in self._imports:
            self._imports[module] = self._read_imports(module)
        return self._imports[module]

    def _read_imports(self, module: str) -> set[str]:
        path = self.file(module)
        if path is None:
            return set()
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        found = set()
        for node in ast.walk(tree):
            found |= set(self._targets(node, module, is_package))
        return {name for name in found if self.file(name) is not None} | self._parents(module)

    def _targets(self, node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _inside(alias.name):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            if _inside(base):
                yield from self._from_targets(base, [alias.name for alias in node.names])

    def _from_targets(self, base: str, names: list[str]) -> Iterator[str]:
        """`from base import a, b`: each name that is a submodule, else base itself."""
        for name in names:
            submodule = f"{base}.{name}"
            yield submodule if self.file(submodule) is not None else base

    def _parents(self, module: str) -> set[str]:
        """The packages above `module` whose __init__.py runs code."""
        parts = module.split(".")
        parents = {".".join(parts[:end]) for end in range(1, len(parts))}
        return {name for name in parents if not self._trivial_init(name)}

    def _trivial_init(self, package: str) -> bool:
        path = self.file(package)
        if path is None or path.name != "__init__.py":
            return True
        return all(_is_inert(statement) for statement in ast.parse(path.read_text()).body)


def closure(package: Package, roots: list[str]) -> dict[str, tuple[str, ...]]:
    """Every module reachable from `roots`, with the import chain that first reached it."""
    chains = {root: (root,) for root in roots}
    queue = list(chains)
    while queue:
        module = queue.pop(0)
        for imported in sorted(package.imports(module)):
            if imported not in chains:
                chains[imported] = (*chains[module], imported)
                queue.append(imported)
    return chains


def covered(path: str, deps: list[str]) -> bool:
    """A dep covers `path` when it is that file or a folder above it."""
    folders_or_files = [dep.rstrip("/") for dep in deps]
    return any(path == dep or path.startswith(f"{dep}/") for dep in folders_or_files)


def missing_deps(dvc_yaml: dict, package: Package, root: Path) -> list[Missing]:
    problems = []
    for name, stage in dvc_yaml.get("stages", {}).items():
        deps = [_dep_path(dep) for dep in stage.get("deps", [])]
        reached = closure(package, _existing(package, name, entry_modules(name, stage["cmd"])))
        for module, chain in reached.items():
            path = package.file(module).relative_to(root).as_posix()
            if not covered(path, deps):
                problems.append(Missing(name, module, path, chain))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dvc-yaml", type=Path, default=Path("dvc.yaml"))
    parser.add_argument(
        "--src", type=Path, default=Path("src"), help="the folder above greenlight/"
    )
    args = parser.parse_args(argv)
    root = args.dvc_yaml.parent
    try:
        found = missing_deps(yaml.safe_load(args.dvc_yaml.read_text()), Package(args.src), root)
    except StageDepsError as error:
        print(error)
        return 1
    for problem in found:
        print(problem)
    return 1 if found else 0


def _existing(package: Package, stage: str, modules: list[str]) -> list[str]:
    absent = [module for module in modules if package.file(module) is None]
    if absent:
        raise StageDepsError(f"dvc.yaml: stage '{stage}' runs {absent}, which do not exist")
    return modules


def _dep_path(dep: str | dict) -> str:
    return dep if isinstance(dep, str) else next(iter(dep))


def _inside(name: str | None) -> bool:
    return name is not None and (name == PACKAGE or name.startswith(f"{PACKAGE}."))


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The module a `from ... import` reads from, relative imports resolved."""
    if node.level == 0:
        return node.module
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_inert(statement: ast.stmt) -> bool:
    """A docstring, a `from __future__` import, or a name bound to a literal."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return True
    if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
        return True
    return isinstance(statement, ast.Assign | ast.AnnAssign) and _is_literal(statement.value)


def _is_literal(value: ast.expr | None) -> bool:
    if value is None:
        return False
    try:
        ast.literal_eval(value)
    except ValueError:  # a name, a call, an operation: code that runs
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
