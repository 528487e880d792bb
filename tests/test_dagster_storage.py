"""The run history's event log storage (pipelines.dagster_storage) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

from pipelines.dagster_storage import RunHistoryEventLogStorage


class ConnectionCount:
    """SQLite connections opened by any SQLAlchemy engine of this process while counting."""

    def __init__(self) -> None:
        self.opened = 0

    def __enter__(self) -> ConnectionCount:
        event.listen(Engine, "connect", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(Engine, "connect", self._count)

    def _count(self, *_: object) -> None:
        self.opened += 1


def test_a_present_table_is_looked_up_once_and_a_missing_one_every_time(tmp_path: Path) -> None:
    storage = RunHistoryEventLogStorage(str(tmp_path))
    try:
        with ConnectionCount() as connections:
            assert storage.has_table("asset_check_executions")
            looked_up = connections.opened
            assert looked_up >= 1
            assert storage.has_table("asset_check_executions")
            assert connections.opened == looked_up, "a table found once is not looked up again"

            assert not storage.has_table("no_such_table")
            assert not storage.has_table("no_such_table")
            assert connections.opened >= looked_up + 2, "a missing table is looked up again (a migration may add it)"
    finally:
        storage.dispose()
