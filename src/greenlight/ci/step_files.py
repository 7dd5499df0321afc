"""What a command leaves for the GitHub Actions step that ran it: text appended to the files
Actions names ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY). Outside Actions there are none (None)."""

from __future__ import annotations

from pathlib import Path


def append(path: Path | None, text: str) -> None:
    """Append `text` to `path`; nothing where there is no such file or nothing to say."""
    if path is not None and text:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text)
