"""Advisory locks on a hidden file beside the one they guard (`.name.lock`, outside the log
readers' globs): the prediction log's writer and readers, and every writer of the outcome log
(the service's workers, `greenlight outcomes import`), so several processes share one file."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the lock of `path` for the block: shared for readers, exclusive for writers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path(path).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
