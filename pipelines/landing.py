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
from pipelines.sources.base import Payload

_SAFE_ID = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class LandedFile:
    sha256: str
    path: Path
    bytes: int
    is_new: bool


def land(settings: Settings, source_id: str, payload: Payload) -> LandedFile:
    """Store the payload under landing/<source>/<sha256> unless that file is there already."""
    if not _SAFE_ID.match(source_id):
        raise ValueError(f"unsafe source id {source_id!r}")
    directory = settings.landing_dir / source_id
    if payload.sha256 and (directory / payload.sha256).exists():
        path = directory / payload.sha256
        return LandedFile(payload.sha256, path, path.stat().st_size, is_new=False)
    if payload.path is not None:
        return _land_file(directory, payload.path)
    return _land_bytes(directory, payload.content)


def _land_file(directory: Path, source_path: Path) -> LandedFile:
    digest = _file_sha256(source_path)
    path = directory / digest
    size = source_path.stat().st_size
    if path.exists() and path.stat().st_size == size:
        source_path.unlink(missing_ok=True)
        return LandedFile(digest, path, size, is_new=False)
    directory.mkdir(parents=True, exist_ok=True)
    with open(source_path, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(source_path, path)
    return LandedFile(digest, path, size, is_new=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _land_bytes(directory: Path, content: bytes) -> LandedFile:
    digest = hashlib.sha256(content).hexdigest()
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
