"""What a serving process imports. skops.io, on import, lists every scikit-learn estimator by
importing each of sklearn's packages, `sklearn.externals.array_api_compat.torch` among them, and
that one imports torch whenever torch is installed (181 MiB and seconds, for a gradient-boosting
model). Importing skops.io with torch refused makes that vendored package fail to import, which
sklearn's scan ignores; a torch bundle still imports torch itself, when its loader asks.

The same scan imports scikit-learn's test helpers and with them pytest, and pandas imports
pyarrow whenever it is installed: neither is used to serve, and together they held about 40 MiB of
every serving process (README, Serving: Speed). `import_for_serving` loads pandas and skops.io
without all three; it must run before anything imports pandas (the engine module does)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType


class RefusedImport(importlib.abc.MetaPathFinder):
    """Makes `import <name>` (and its submodules) fail with ModuleNotFoundError."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} is refused while skops loads", name=fullname)
        return None


@contextmanager
def refused(*names: str) -> Iterator[None]:
    """Within the block, importing any of `names` that is not imported yet fails."""
    finder = RefusedImport(frozenset(names))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


# Installed for the pipeline, never used to serve a bundle (torch: see above, for a torch bundle
# its loader imports it later, outside this block).
NOT_FOR_SERVING = ("torch", "pytest", "pyarrow")


def import_for_serving() -> None:
    """pandas and skops.io, without NOT_FOR_SERVING (each of them imports without those)."""
    with refused(*NOT_FOR_SERVING):
        importlib.import_module("pandas")
        importlib.import_module("skops.io")
