"""The base commit's model, for counting the test predictions that flip. Its bundle is a DVC output
(never in git): DVC reads it at the base commit from the local cache or, failing that, the default
remote, read-only. Per-record predictions are never committed; only the flip counts the comment
shows leave this process."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from greenlight.artifacts import Bundle
from greenlight.errors import GreenlightError


class BaseModelUnavailable(GreenlightError):
    """The base's bundle could not be read or used; the message says why and what to do."""


@contextmanager
def base_bundle(commit: str, bundle: Path, given: Path | None = None) -> Iterator[Path]:
    """The folder holding the base's bundle: `given` as is, else a temporary copy from DVC."""
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="greenlight-base-") as scratch:
        yield fetch_bundle(commit, bundle, Path(scratch) / "bundle")


def fetch_bundle(commit: str, bundle: Path, into: Path) -> Path:
    from dvc.api import DVCFileSystem  # noqa: PLC0415 (slow import: only when flips are counted)
    from dvc.exceptions import DvcException  # noqa: PLC0415
    from dvc_data.index import DataIndexError  # noqa: PLC0415 (a directory missing from the cache)

    try:
        DVCFileSystem(".", rev=commit).get(bundle.as_posix(), into.as_posix(), recursive=True)
    except (DvcException, DataIndexError, OSError) as error:
        raise BaseModelUnavailable(
            f"the base's {bundle.as_posix()} (commit {commit[:12]}) is in neither the local DVC "
            f"cache nor the default remote ({type(error).__name__}: {error}); run the base's "
            "pipeline once (`git checkout <base> && dvc repro`) or pass --base-bundle"
        ) from error
    return into


def predicted_labels(bundle: Bundle, records: pd.DataFrame) -> np.ndarray:
    """The bundle's labels (0/1) for `records`, at its own threshold."""
    try:
        probability = bundle.predict_proba(records)
    except (KeyError, ValueError) as error:
        raise BaseModelUnavailable(
            f"the base model cannot score this branch's test split: {error}"
        ) from error
    return (probability >= bundle.threshold).astype(np.int64)
