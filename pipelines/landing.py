"""Landing: every payload is stored unchanged, content-addressed by sha256, before it is parsed.

Paths are built only from the source id and the hash (never from payload content), and written
atomically (temp file + rename), so a crash never leaves a half-written landed file; a temp file of a
failed write is removed at once, and one left by a killed process is swept by the next refresh
(pipelines/recovery.py). A landed file is trusted by its sha256, not its size: one changed in place is
replaced by the fresh download and reported.

Every landing also appends a line to ``landing/<source>.jsonl`` (fetch id, payload name, mode, URL,
observation time, sha256): with it the raw tables can be rebuilt from ``landing/`` alone, in fetch order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.diskspace import ensure_free_space
from pipelines.http import redact
from pipelines.settings import Settings

if TYPE_CHECKING:  # the sources import file_sha256 from here; landing needs Payload for its annotations only
    from pipelines.sources.base import Payload

_SAFE_ID = re.compile(r"^[a-z0-9_]+$")


class DamagedLandingError(RuntimeError):
    """A landed file no longer has the content its name (sha256) says."""


@dataclass(frozen=True)
class LandedFile:
    sha256: str
    path: Path
    bytes: int
    is_new: bool
    repaired: bool = False      # a damaged file under this name was replaced by the payload's bytes


def land(settings: Settings, source_id: str, payload: Payload) -> LandedFile:
    """Store the payload under landing/<source>/<sha256> unless that file is there already (and intact)."""
    if not _SAFE_ID.match(source_id):
        raise ValueError(f"unsafe source id {source_id!r}")
    directory = settings.landing_dir / source_id
    if payload.sha256 and (directory / payload.sha256).exists():
        path = directory / payload.sha256
        if file_sha256(path) != payload.sha256:
            raise DamagedLandingError(f"{source_id}: landed file {path} is damaged (its sha256 no longer matches)")
        return LandedFile(payload.sha256, path, path.stat().st_size, is_new=False)
    if payload.path is not None:
        return _land_file(directory, payload.path)
    return _land_bytes(directory, payload.content, source_id)


def _land_file(directory: Path, source_path: Path) -> LandedFile:
    digest = file_sha256(source_path)
    path = directory / digest
    size = source_path.stat().st_size
    if path.exists() and file_sha256(path) == digest:
        source_path.unlink(missing_ok=True)
        return LandedFile(digest, path, size, is_new=False)
    repaired = path.exists()
    directory.mkdir(parents=True, exist_ok=True)
    with open(source_path, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(source_path, path)
    return LandedFile(digest, path, size, is_new=not repaired, repaired=repaired)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content (read in 1 MiB blocks): the name it is landed under."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _land_bytes(directory: Path, content: bytes, source_id: str) -> LandedFile:
    digest = hashlib.sha256(content).hexdigest()
    path = directory / digest
    if path.exists() and file_sha256(path) == digest:
        return LandedFile(digest, path, len(content), is_new=False)
    repaired = path.exists()
    directory.mkdir(parents=True, exist_ok=True)
    ensure_free_space(directory, len(content), f"land a {source_id} payload")
    temp = directory / f".{digest}.{os.getpid()}.tmp"
    try:
        with open(temp, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return LandedFile(digest, path, len(content), is_new=not repaired, repaired=repaired)


@dataclass(frozen=True)
class JournalEntry:
    fetch_id: str
    source: str
    name: str
    mode: str
    url: str | None
    observed_at: str | None
    is_date_estimated: bool
    sha256: str
    fetched_at: str


def journal_path(settings: Settings, source_id: str) -> Path:
    return settings.landing_dir / f"{source_id}.jsonl"


def record_landing(settings: Settings, source_id: str, payload: Payload, sha256: str, fetch_id: str,
                   fetched_at: datetime) -> None:
    """Append one line to the source's landing journal (written before the database, so it survives it)."""
    entry = JournalEntry(fetch_id, source_id, payload.name, payload.mode, redact(payload.url or "") or None,
                         payload.observed_at.isoformat() if payload.observed_at else None,
                         payload.is_date_estimated, sha256, fetched_at.isoformat())
    path = journal_path(settings, source_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry.__dict__, ensure_ascii=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_journal(settings: Settings) -> Iterator[JournalEntry]:
    """Every landing of every source, in fetch order (a torn last line from a crash is skipped)."""
    entries = []
    for path in sorted(settings.landing_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entries.append(JournalEntry(**json.loads(line)))
            except (ValueError, TypeError):
                continue
    yield from sorted(entries, key=lambda entry: entry.fetched_at)
