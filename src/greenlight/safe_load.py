"""Loading model files without pickle: skops with an explicit list of trusted types, and a sha256
check against the manifest before any file is deserialised."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from greenlight.errors import ArtifactError
from greenlight.files import sha256_file

# Types skops does not trust by default but our pipelines legitimately contain. Anything else in a
# file (a function, an unknown class) is refused rather than executed.
TRUSTED_SKOPS_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def verify_sha256(path: Path, expected: str) -> None:
    if not path.is_file():
        raise ArtifactError(f"{path}: model file is missing")
    actual = sha256_file(path)
    if actual != expected:
        raise ArtifactError(
            f"{path}: sha256 {actual} does not match the manifest ({expected}); "
            "the file changed after training, refusing to load it"
        )


def load_skops(path: Path) -> Any:
    """Load a skops file, refusing any type outside the built-in and TRUSTED_SKOPS_TYPES lists."""
    import skops.io as sio  # noqa: PLC0415 (its import scans all of sklearn: seconds)

    try:
        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_SKOPS_TYPES)
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ArtifactError(f"{path}: not a valid skops file ({error})") from error
    if untrusted:
        raise ArtifactError(f"{path}: refusing untrusted types {sorted(untrusted)}")
    return sio.load(path, trusted=list(TRUSTED_SKOPS_TYPES))
