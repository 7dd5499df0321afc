"""Small file helpers. Every write goes to a temporary file first and is renamed into place, so a
failed run never leaves a half-written output where a good one was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenlight.errors import GreenlightError, MissingInputError

if TYPE_CHECKING:  # imported where a table is read: the service's supervisor reads only JSON here
    import pandas as pd


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed over `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `target` that replaces `target` whole (no file of the old
    one survives) only if the block succeeds; on failure the old folder stays as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield staging
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, target: Path) -> None:
    """Two renames: the old folder aside, the new one in; then the old one is removed."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.replace(old)
    staging.replace(target)
    shutil.rmtree(old, ignore_errors=True)


def write_with(target: Path, writer: Callable[[Path], Any]) -> Path:
    with atomic_path(target) as temporary:
        writer(temporary)
    return target


def write_text(target: Path, text: str) -> Path:
    return write_with(target, lambda path: path.write_text(text))


def write_bytes(target: Path, data: bytes) -> Path:
    return write_with(target, lambda path: path.write_bytes(data))


def write_json(target: Path, payload: Any) -> Path:
    return write_text(target, json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def write_parquet(target: Path, frame: pd.DataFrame) -> Path:
    return write_with(target, lambda path: frame.to_parquet(path, index=False))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise MissingInputError(f"{path} not found: run the stage that writes it first") from error
    except json.JSONDecodeError as error:
        raise GreenlightError(f"{path} is not valid JSON: {error}") from error


def read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run the stage that writes it first")
    import pandas as pd  # noqa: PLC0415

    return pd.read_parquet(path)


def sha256_file(path: Path) -> str:
    return _digest_file(path, hashlib.sha256())


def md5_file(path: Path) -> str:
    """The md5 DVC records for a file (a content fingerprint here, not a security measure)."""
    return _digest_file(path, hashlib.md5(usedforsecurity=False))


def _digest_file(path: Path, digest: Any) -> str:
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
