"""Change-only storage: the change log reconstructs every snapshot exactly, in any load order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from pipelines.changes import record_changes
from pipelines.settings import Settings
from pipelines.sources.base import TOKEN_COLUMNS
from pipelines.warehouse import RAW_DDL, WarehouseLayoutError, connect_working

T0 = datetime(2026, 1, 1, 6, tzinfo=UTC)


def token_row(key: str, usd_in: str, usd_out: str) -> dict:
    row = dict.fromkeys(TOKEN_COLUMNS)
    row.update(scope="all", provider="openai", source_model_key=key, mode="chat",
               usd_per_1m_input=usd_in, usd_per_1m_output=usd_out)
    return row


# Four daily snapshots of one scope: a cut, a removal, a new key, a revert to the first payload.
SNAPSHOTS = {
    T0: [token_row("gpt-4o", "5.00", "15.00"), token_row("gpt-4o-mini", "0.15", "0.60")],
    T0 + timedelta(days=1): [token_row("gpt-4o", "2.50", "10.00"), token_row("gpt-4o-mini", "0.15", "0.60")],
    T0 + timedelta(days=2): [token_row("gpt-4o", "2.50", "10.00"), token_row("o1", "15.00", "60.00")],
    T0 + timedelta(days=3): [token_row("gpt-4o", "5.00", "15.00"), token_row("gpt-4o-mini", "0.15", "0.60")],
}


def load(connection: duckdb.DuckDBPyConnection, observed_at: datetime, rows: list[dict]) -> int:
    connection.register("incoming_rows", pd.DataFrame.from_records(rows, columns=list(TOKEN_COLUMNS)))
    try:
        return record_changes(connection, "litellm", "token", f"sha-{observed_at:%d}", "incoming_rows",
                              observed_at, "live", False, None)
    finally:
        connection.unregister("incoming_rows")


def state_at(connection: duckdb.DuckDBPyConnection, observed_at: datetime) -> set[tuple]:
    return set(connection.execute(
        """select source_model_key, usd_per_1m_input::varchar, usd_per_1m_output::varchar from (
               select * from raw.token_observations where observed_at <= ?
               qualify row_number() over (partition by provider, source_model_key order by observed_at desc) = 1
           ) where not is_removed""", [observed_at]).fetchall())


def expected(rows: list[dict]) -> set[tuple]:
    return {(r["source_model_key"], f"{float(r['usd_per_1m_input']):.6f}", f"{float(r['usd_per_1m_output']):.6f}")
            for r in rows}


@pytest.fixture
def connection():
    with duckdb.connect() as connection:
        connection.execute(RAW_DDL)
        yield connection


def test_in_order_stores_only_changes(connection) -> None:
    written = [load(connection, at, rows) for at, rows in SNAPSHOTS.items()]
    # first snapshot in full; then the cut; then the removal and the new key; then the revert (3 rows)
    assert written == [2, 1, 2, 3]
    removed = connection.execute(
        "select source_model_key, observed_at from raw.token_observations where is_removed").fetchall()
    assert removed == [("gpt-4o-mini", T0 + timedelta(days=2)), ("o1", T0 + timedelta(days=3))]
    for at, rows in SNAPSHOTS.items():
        assert state_at(connection, at) == expected(rows)


def test_unchanged_payload_adds_a_snapshot_and_no_rows(connection) -> None:
    load(connection, T0, SNAPSHOTS[T0])
    assert load(connection, T0 + timedelta(hours=1), SNAPSHOTS[T0]) == 0
    assert connection.execute("select count(*) from raw.snapshots").fetchone()[0] == 2


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::5])
def test_any_load_order_reconstructs_every_snapshot(connection, order) -> None:
    times = list(SNAPSHOTS)
    for index in order:
        load(connection, times[index], SNAPSHOTS[times[index]])
    for at, rows in SNAPSHOTS.items():
        assert state_at(connection, at) == expected(rows)
    in_order = duckdb.connect()
    in_order.execute(RAW_DDL)
    for at, rows in SNAPSHOTS.items():
        load(in_order, at, rows)
    columns = "source_model_key, observed_at, is_removed, usd_per_1m_input, usd_per_1m_output"
    query = f"select {columns} from raw.token_observations order by all"
    assert connection.execute(query).fetchall() == in_order.execute(query).fetchall()


def test_cheapest_of_duplicate_rows_is_kept(connection) -> None:
    load(connection, T0, [token_row("gpt-4o", "5.00", "15.00"), token_row("gpt-4o", "4.00", "15.00")])
    assert state_at(connection, T0) == {("gpt-4o", "4.000000", "15.000000")}


def test_a_working_database_of_the_full_snapshot_layout_is_refused_naming_the_file(tmp_path) -> None:
    old = Settings.from_env(data_dir=tmp_path / "old", offline=True)
    old.working_db.parent.mkdir(parents=True)
    with duckdb.connect(str(old.working_db)) as connection:   # raw.gpu_observations before change-only storage
        connection.execute("create schema raw; create table raw.gpu_observations (source varchar, sha256 varchar)")
    with pytest.raises(WarehouseLayoutError, match="stores every snapshot in full") as refused:
        connect_working(old)
    assert str(old.working_db) in str(refused.value)

    new = Settings.from_env(data_dir=tmp_path / "new", offline=True)
    connect_working(new).close()   # a new working database has the change log's columns
