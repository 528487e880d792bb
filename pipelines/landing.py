"""Landing: every payload is stored unchanged, content-addressed by sha256, before it is parsed.

Paths are built only from the source id and the hash (never from payload content), and written
atomically (temp file + rename), so a crash never leaves a half-written landed file.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.settings import Settings

_SAFE_ID = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class LandedFile:
    sha256: str
    path: Path
    bytes: int
    is_new: bool


def land(settings: Settings, source_id: str, content: bytes) -> LandedFile:
    if not _SAFE_ID.match(source_id):
        raise ValueError(f"unsafe source id {source_id!r}")
    digest = hashlib.sha256(content).hexdigest()
    directory = settings.landing_dir / source_id
    path = directory / digest
    if path.exists() and path.stat().st_size == len(content):
        return LandedFile(digest, path, len(content), is_new=False)
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".{digest}.{os.getpid()}.tmp"
    with open(temp, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    return LandedFile(digest, path, len(content), is_new=True)
