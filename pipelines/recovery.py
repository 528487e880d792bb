"""What a refresh sets right before it starts (under the refresh lock): debris of a killed run, and a missing or
damaged working database.

- Temp files of a write that never finished (a landing, a publish, a download, a restore) are removed.
- A working database that is missing or does not read back is moved aside (never deleted) and rebuilt: from the
  published copy (a copy of the working database as of the last good build), then every landing the copy does not
  know is replayed from ``landing/`` in fetch order through the landing journal (``landing/<source>.jsonl``).
  Without a published copy, everything is replayed from the journal. A landed file whose sha256 no longer matches
  its name is reported and skipped (a live source fetches it again).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines import dbt_state
from pipelines.diskspace import ensure_free_space
from pipelines.landing import JournalEntry, file_sha256, read_journal
from pipelines.settings import Settings
from pipelines.sources.base import Payload, parse_timestamp

STALE_DOWNLOAD_S = 600      # a download still being written is touched every second; older ones are debris
RAW_TABLES = ("fetch_log", "payloads", "snapshots", "gpu_observations", "token_observations", "quarantine")


def prepare_refresh(settings: Settings) -> list[str]:
    """Sweep debris and recover the working database (caller holds the refresh lock); one line per thing done."""
    lines = []
    removed = sweep_stale_temps(settings)
    if removed:
        size = sum(_size(path) for path in removed)
        lines.append(f"recovery: removed {len(removed)} temp file(s) of an unfinished write ({size / 1e6:.1f} MB): "
                     f"{', '.join(path.name for path in removed[:3])}")
    recovery = ensure_working_db(settings)
    if recovery is not None:
        lines.append(recovery.line(settings))
    return lines


def sweep_stale_temps(settings: Settings) -> list[Path]:
    """Remove temp files left by a killed or failed write; a temp file of a live process is left alone."""
    candidates = [*settings.landing_dir.glob("*/.*.tmp"), *settings.data_dir.glob(".*.tmp"),
                  *settings.working_db.parent.glob(".*.tmp")]
    removed = [path for path in candidates if not _owner_alive(path) and _unlink(path)]
    downloads = settings.data_dir / "downloads"
    removed += [path for path in downloads.glob("*/.download-*")
                if time.time() - path.stat().st_mtime > STALE_DOWNLOAD_S and _unlink(path)]
    return removed


def _owner_alive(path: Path) -> bool:
    """Temp names end in .<pid>.tmp: true when that process is alive (and is not this one)."""
    parts = path.name.split(".")
    if len(parts) < 3 or not parts[-2].isdigit():
        return False
    pid = int(parts[-2])
    return pid != os.getpid() and process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unlink(path: Path) -> bool:
    try:
        _SIZES[path] = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return False
    return True


_SIZES: dict[Path, int] = {}


def _size(path: Path) -> int:
    return _SIZES.pop(path, 0)


def working_db_problem(settings: Settings) -> str | None:
    """Why the working database cannot be used (missing, unreadable, damaged raw tables), or None."""
    return database_problem(settings.working_db, read_only=False)


def database_problem(path: Path, read_only: bool = True) -> str | None:
    if not path.exists():
        return "missing"
    try:
        with duckdb.connect(str(path), read_only=read_only) as connection:
            tables = {row[0] for row in connection.execute(
                "select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()}
            for table in RAW_TABLES:  # the raw tables are what cannot be rebuilt: read every block of them
                if table in tables:
                    connection.execute(f"select sum(hash(t)) from raw.{table} as t").fetchall()
    except duckdb.Error as error:
        return f"damaged ({_first_line(error).replace(str(path), path.name)})"
    return None


@dataclass
class Recovery:
    problem: str
    moved_to: Path | None = None
    from_published: bool = False
    replayed: int = 0
    skipped: list[str] = field(default_factory=list)

    def line(self, settings: Settings) -> str:
        origin = "the published copy and landing/" if self.from_published else "landing/"
        text = (f"recovery: working database {self.problem[:90]}: rebuilt from {origin} "
                f"({self.replayed} landed payload(s) replayed in fetch order")
        if self.skipped:
            text += f"; {len(self.skipped)} skipped: {'; '.join(self.skipped[:3])}"
        text += ")"
        if self.moved_to:
            text += f"; the damaged file is kept as {self.moved_to}"
        return text


def ensure_working_db(settings: Settings) -> Recovery | None:
    """Rebuild a missing or damaged working database (caller holds the refresh lock); None when it is fine."""
    problem = working_db_problem(settings)
    if problem is None:
        return None
    has_history = settings.published_db.exists() or any(settings.landing_dir.glob("*.jsonl"))
    if problem == "missing" and not has_history:
        return None  # a new warehouse
    recovery = Recovery(problem)
    if problem != "missing":
        recovery.moved_to = _move_aside(settings.working_db)
    recovery.from_published = _restore_published(settings)
    if not recovery.from_published:  # the restored copy's marts match its raw tables; a new database has none
        dbt_state.forget_built(settings)
    recovery.replayed, recovery.skipped = replay_landings(settings)
    return recovery


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    os.replace(path, target)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, target.with_name(target.name + ".wal"))
    return target


def _restore_published(settings: Settings) -> bool:
    published = settings.published_db
    if database_problem(published) is not None:
        return False
    target = settings.working_db
    target.parent.mkdir(parents=True, exist_ok=True)
    ensure_free_space(target.parent, published.stat().st_size, "restore the working database")
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(published, temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


def replay_landings(settings: Settings) -> tuple[int, list[str]]:
    """Load every journalled landing the working database does not know, in fetch order."""
    from pipelines.ingest import load_payload
    from pipelines.sources import SOURCES
    from pipelines.warehouse import connect_working, writer_lock

    replayed, skipped = 0, []
    # one connection for the whole replay: each close checkpoints the file (about 40 ms), and a rebuild from
    # landing/ replays every fetch ever landed; each payload is still its own transaction
    with writer_lock(settings), connect_working(settings) as connection:
        known = {row[0] for row in connection.execute("select fetch_id from raw.fetch_log").fetchall()}
        for entry in read_journal(settings):
            if entry.fetch_id in known or entry.source not in SOURCES:
                continue
            payload, problem = _journal_payload(settings, entry)
            if payload is None:
                skipped.append(f"{entry.source} {entry.name} {entry.sha256[:12]}: {problem}")
                continue
            load_payload(SOURCES[entry.source], settings, payload, run_id="recovery", journal=False,
                         fetch_id=entry.fetch_id, fetched_at=datetime.fromisoformat(entry.fetched_at),
                         connection=connection)
            replayed += 1
    return replayed, skipped


def _journal_payload(settings: Settings, entry: JournalEntry) -> tuple[Payload | None, str | None]:
    path = settings.landing_dir / entry.source / entry.sha256
    if not path.exists():
        return None, "landed file missing"
    if file_sha256(path) != entry.sha256:
        return None, "landed file damaged (sha256 mismatch)"
    payload = Payload(name=entry.name, content=b"", mode=entry.mode, url=entry.url,
                      observed_at=parse_timestamp(entry.observed_at), is_date_estimated=entry.is_date_estimated,
                      path=path, sha256=entry.sha256)
    return payload, None


def dagster_instance_problem(error: BaseException, home: str | os.PathLike | None) -> str | None:
    """A one-line message with its remedy when ``error`` comes from a damaged Dagster instance database."""
    chain, seen = error, set()
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        orig = getattr(chain, "orig", None)
        if isinstance(chain, sqlite3.DatabaseError) or isinstance(orig, sqlite3.DatabaseError):
            detail = _first_line(orig or chain)
            return (f"the Dagster instance database in {home} is damaged ({detail}); it holds run history only, "
                    f"no prices: move {Path(home or '.') / 'history'}, {Path(home or '.') / 'event_log.db'} and "
                    f"{Path(home or '.') / 'schedules'} aside "
                    f"(or delete them) and run the refresh again")
        chain = chain.__cause__ or chain.__context__
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
