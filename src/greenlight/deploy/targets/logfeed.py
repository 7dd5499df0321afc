"""Follow a JSON Lines file from "now": what a service appends after the feed opens. Used by the
shadow step to see the live color's requests (its prediction log) as they are answered."""

from __future__ import annotations

from pathlib import Path


class LogFeed:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.is_file() else 0
        self.partial = b""

    def read(self) -> list[str]:
        """Complete lines appended since the last read (newline included); after a rotation, the
        new file's lines."""
        if not self.path.is_file():
            return []
        if self.path.stat().st_size < self.offset:
            self.offset, self.partial = 0, b""  # rotated: the log starts again
        with self.path.open("rb") as stream:
            stream.seek(self.offset)
            data = self.partial + stream.read()
        self.offset += len(data) - len(self.partial)
        *complete, self.partial = data.split(b"\n")
        return [line.decode("utf-8", errors="replace") + "\n" for line in complete if line.strip()]
