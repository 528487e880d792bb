"""Dagster's run history (SQLite under $DAGSTER_HOME): cheaper to write, event by event.

A refresh writes some 750 events (a "planned" event per asset and check, then dbt's materializations and check
results), each stored on its own. Two things make each one cheaper:

- ``RunHistoryEventLogStorage`` (configured in $DAGSTER_HOME/dagster.yaml, pipelines.runs.DAGSTER_YAML): Dagster's
  consolidated SQLite event log (one file, WAL, no per-run shard and index copy), keeping one SQLAlchemy engine and
  one pooled SQLite connection for the file instead of a new engine and connection for every access. Storing one
  refresh's events took 3.5 s with a connection per access, 1.9 s with the pooled one. Each access is still its own
  transaction, so the UI's process (another reader and writer of the file) sees each event as it is committed.
  It also remembers which of Dagster's tables exist: Dagster asks before every asset check event, with a new engine
  and connection each time.
- ``relax_run_history_sync`` (the CLI's process only), below.

The sync setting: each event is a transaction of its own, and with SQLite's default ``synchronous=FULL`` its commit
and its connection's close (which checkpoints the WAL) each wait for the disk, 15 to 20 ms per event on this
machine's disk (``synchronous=NORMAL`` did not help: the close still checkpoints). So the CLI's process writes its
run history with ``synchronous=OFF``. What that risks, per SQLite's documentation: if the operating system crashes
or the power fails mid-write, the run history (the Dagster UI's list of runs and events) may be damaged and
$DAGSTER_HOME has to be moved aside. A killed `margins` process loses nothing, and the warehouse itself is DuckDB's
files, copied with an fsync when published (pipelines.warehouse.publish), which this setting does not touch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool


class RunHistoryEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """Dagster's consolidated SQLite event log with one engine and a pooled connection per storage object (the
    parent class builds an engine and opens a connection for every access). A connection is not bound to the
    thread that opened it, since Dagster stores events from more than one thread; one access at a time uses it."""

    _engine: Engine | None = None
    _tables_present: frozenset[str] = frozenset()

    def has_table(self, table_name: str) -> bool:
        """Dagster's check, remembered once true: Dagster asks before storing every asset check event and every event
        with tags, and the parent builds an engine, opens a connection and reads SQLite's schema each time (~40 % of
        a test run's event storage, py-spy). A table, once there, stays (migrations add tables, never drop them)."""
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present = self._tables_present | {table_name}
        return present

    @contextmanager
    def _connect(self) -> Iterator[Connection]:  # Dagster's hook: the parent creates an engine per call
        if self._engine is None:
            self._engine = create_engine(self._conn_string, poolclass=QueuePool, pool_size=1, max_overflow=4,
                                         connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                       "check_same_thread": False})
        with self._engine.connect() as connection, connection.begin():
            yield connection

    def dispose(self) -> None:
        super().dispose()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _no_sync(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("pragma synchronous = off")


def relax_run_history_sync() -> None:
    """Install the connect hook for every SQLAlchemy engine of this process (Dagster creates one per access)."""
    if not event.contains(Engine, "connect", _no_sync):
        event.listen(Engine, "connect", _no_sync)
