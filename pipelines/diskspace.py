"""Free space before a write: a plain message saying how much is needed, instead of a half-written file."""

from __future__ import annotations

import shutil
from pathlib import Path

MARGIN_BYTES = 16 * 1024 * 1024   # DuckDB's WAL, the fetch log, the landing journal: small writes around the big one


class DiskSpaceError(OSError):
    """Not enough free space for a write the pipeline is about to make."""


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def ensure_free_space(path: Path, needed: int, what: str) -> None:
    """Raise DiskSpaceError when writing ``needed`` bytes (plus a margin) under ``path`` would fill the disk."""
    free = free_bytes(path)
    if free < needed + MARGIN_BYTES:
        raise DiskSpaceError(
            f"not enough free space to {what}: needs {_size(needed + MARGIN_BYTES)}, {_size(free)} free "
            f"in {path} (No space left on device); free some space and run the refresh again")


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"
