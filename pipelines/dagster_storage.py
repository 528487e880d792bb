"""Dagster's run history (SQLite under $DAGSTER_HOME) written without an fsync per event.

Dagster stores each event of a run through a new short-lived SQLite connection (a new engine, one transaction,
closed), with SQLite's default ``synchronous=FULL``: the commit and the close (which checkpoints the WAL) each
wait for the disk. A refresh writes some 350 events (one "planned" event per asset and check, then the steps'),
measured at 15 to 20 ms each on this machine's disk: 5 to 7 s of a refresh that has nothing new to build.
``synchronous=NORMAL`` did not help here (the close still checkpoints), so the CLI's process writes its run
history with ``synchronous=OFF``. What that risks, per SQLite's documentation: if the operating system crashes or
the power fails mid-write, the run history (the Dagster UI's list of runs and events) may be damaged and
$DAGSTER_HOME has to be moved aside. A killed `margins` process loses nothing, and the warehouse itself is DuckDB's
files, copied with an fsync when published (pipelines.warehouse.publish), which this setting does not touch.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _no_sync(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("pragma synchronous = off")


def relax_run_history_sync() -> None:
    """Install the connect hook for every SQLAlchemy engine of this process (Dagster creates one per access)."""
    if not event.contains(Engine, "connect", _no_sync):
        event.listen(Engine, "connect", _no_sync)
