"""Writing skops files that are the same bytes for the same object, run after run.

skops names each array member of its zip after `id()` of the array (a memory address) and
stamps every member with the current time, so two dumps of one fitted object differ. Here the
ids become 1, 2, 3... in the order the schema first names them, the members follow that order,
and every member gets one fixed timestamp and mode. Loading is unchanged (`safe_load.py`)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from greenlight.errors import ArtifactError
from greenlight.files import write_bytes

SCHEMA = "schema.json"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o644 << 16  # rw-r--r--, in the high bytes of external_attr
UNIX = 3  # ZipInfo.create_system: the same on every platform


def dump_skops(obj: Any, path: Path) -> Path:
    """Save `obj` with skops to `path` (atomically), deterministically."""
    import skops.io as sio  # noqa: PLC0415 (its import scans all of sklearn: seconds)

    return write_bytes(path, canonical_skops(sio.dumps(obj)))


def canonical_skops(data: bytes) -> bytes:
    """The same skops archive with ids renumbered, members in schema order, fixed metadata."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read(SCHEMA))
        members = {name: archive.read(name) for name in archive.namelist() if name != SCHEMA}
    renames = _Renumbering(set(members))
    schema = renames.apply(schema)
    unnamed = sorted(set(members) - set(renames.files))
    if unnamed:
        raise ArtifactError(f"skops wrote members its schema does not name: {unnamed}")
    entries = [(SCHEMA, json.dumps(schema, indent=2).encode())]
    entries += [(new, members[old]) for old, new in renames.files.items()]
    return zip_bytes(entries)


def zip_bytes(entries: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed zip of `entries`, in that order, with fixed timestamps and modes (stored,
    not deflated: compressed bytes could vary with the zlib build)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, payload in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system, info.external_attr = UNIX, FILE_MODE
            archive.writestr(info, payload)
    return buffer.getvalue()


class _Renumbering:
    """Maps skops' `__id__` values and member file names to their first-seen order."""

    def __init__(self, member_names: set[str]) -> None:
        self.member_names = member_names
        self.ids: dict[int, int] = {}
        self.files: dict[str, str] = {}

    def apply(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.apply(item) for item in node]
        if not isinstance(node, dict):
            return node
        return {key: self._value(key, value) for key, value in node.items()}

    def _value(self, key: str, value: Any) -> Any:
        if key == "__id__" and isinstance(value, int):
            # 1-based: skops treats an id of 0 as "no id" and would not share the object
            return self.ids.setdefault(value, len(self.ids) + 1)
        if key == "file" and value in self.member_names:
            suffix = Path(value).suffix
            return self.files.setdefault(value, f"{len(self.files) + 1}{suffix}")
        return self.apply(value)
