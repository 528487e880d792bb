"""Bytes of tables, measured as DuckDB stores them.

Counted: the raw observation/landing tables and every ``intermediate.*`` relation. Intermediate *views* are
listed with 0 bytes (a view stores nothing). Seeds, staging views and marts are not counted.

Main method (in place, seconds even at 3 years): ``pragma storage_info`` of every table in the warehouse lists
each column segment with its block and offset. A segment's bytes are the distance to the next segment in the same
block (or to the block's end, 256 KiB) plus 256 KiB per additional block it spans; a table's bytes are the sum
over its segments. Free blocks of dropped tables are not counted.

Baseline "every daily snapshot in full" (the storage before issue 7: every parsed row of every payload). The raw
tables are change logs now, which compress differently from full snapshots, so their bytes per row say nothing
about the baseline. Instead the generator writes the full daily snapshots of the smallest warehouse (1 month)
in the old layout, one kind per fresh DuckDB file (exact: file size minus an empty file's size), which gives
bytes per row per kind. At every size the baseline is those bytes per row times the rows every snapshot in full
would hold there: per distinct (source, scope, observed_at) of ``raw.snapshots``, the offers live at that
instant according to the change log (+1 for a new offer, -1 for a removal, cumulated). Labelled "measured at
1m, scaled by rows".

Cross-check (exact; used at 1 month, it costs minutes at 3 years): each table is copied
(``create table … as select * from …``) into its own fresh DuckDB file, which is checkpointed and closed; its
bytes are the file size minus the size of an empty database file: the table's compressed storage as DuckDB writes
it (same compression, no free blocks, no WAL), independent of how fragmented the warehouse file is.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

OBSERVATION_TABLES = ("raw.gpu_observations", "raw.token_observations", "raw.snapshots", "raw.fetch_log",
                      "raw.payloads", "raw.quarantine")
KINDS = ("gpu", "token")


@dataclass
class FullSnapshots:
    """The old layout of every daily snapshot in full, materialised once (at the smallest size)."""
    size: str
    bytes: dict[str, int]            # kind -> bytes of its own DuckDB file (minus an empty file)
    rows: dict[str, int]

    def bytes_per_row(self, kind: str) -> float:
        return self.bytes[kind] / self.rows[kind] if self.rows.get(kind) else 0.0


@dataclass
class StorageReport:
    tables: dict[str, int]            # raw + intermediate relation -> bytes (views: 0)
    full_snapshots: dict[str, int]    # baseline per kind -> bytes
    rows: dict[str, int]
    views: list[str] = field(default_factory=list)
    baseline_method: str = ""

    @property
    def stored_bytes(self) -> int:
        return sum(self.tables.values())

    @property
    def baseline_bytes(self) -> int:
        return sum(self.full_snapshots.values())


def _empty_file_bytes(directory: Path) -> int:
    path = directory / "empty.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table t (x integer)")
        connection.execute("drop table t")
        connection.execute("checkpoint")
    size = path.stat().st_size
    path.unlink()
    return size


def measure_full_snapshots(warehouse, size: str, scratch: Path | None = None) -> FullSnapshots:
    """Materialise every daily snapshot in full of ``warehouse`` (a bench.generate.SyntheticWarehouse) in the
    old layout, one kind per fresh file, and measure each file."""
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        first, last = connection.execute(
            "select min(observed_at)::date, max(observed_at)::date from raw.snapshots").fetchone()
    result = FullSnapshots(size=size, bytes={}, rows={})
    with tempfile.TemporaryDirectory(prefix="margins-bench-full-", dir=scratch) as temp:
        directory = Path(temp)
        empty = _empty_file_bytes(directory)
        for kind in KINDS:
            path = directory / f"every_{kind}_snapshot.duckdb"
            result.rows[kind] = warehouse.write_full_snapshots(path, kind, first, last)
            result.bytes[kind] = max(path.stat().st_size - empty, 0)
            path.unlink()
    return result


def full_snapshot_rows(connection: duckdb.DuckDBPyConnection, kind: str) -> int:
    """Rows every snapshot would hold in full: per snapshot instant of a source and scope, the offers live then
    according to the change log."""
    from pipelines.changes import KEY_COLUMNS

    keys = ", ".join(("source", "scope", *KEY_COLUMNS[kind]))
    return connection.execute(f"""
        with changes as (
            select source, scope, observed_at, is_removed,
                lag(is_removed) over (partition by {keys} order by observed_at) as was_removed
            from raw.{kind}_observations
        ),
        deltas as (
            select source, scope, observed_at,
                sum(case when not is_removed and coalesce(was_removed, true) then 1
                         when is_removed and not coalesce(was_removed, true) then -1 else 0 end) as delta
            from changes group by all
        ),
        live as (
            select source, scope, observed_at,
                sum(delta) over (partition by source, scope order by observed_at) as n_live
            from deltas
        ),
        instants as (select distinct source, scope, observed_at from raw.snapshots)
        select coalesce(sum(live.n_live), 0)::bigint
        from instants
        asof inner join live
            on live.source = instants.source and live.scope = instants.scope
            and instants.observed_at >= live.observed_at
    """).fetchone()[0]


def _intermediate_views(connection: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    return [f"intermediate.{row[0]}" for row in connection.execute(
        "select view_name from duckdb_views() where database_name = ? and schema_name = 'intermediate' "
        "order by view_name", [database]).fetchall()]


def _baseline(connection: duckdb.DuckDBPyConnection, full: FullSnapshots, rows: dict[str, int]) -> dict[str, int]:
    baseline = {}
    for kind in KINDS:
        expanded = full_snapshot_rows(connection, kind)
        rows[f"every_{kind}_snapshot"] = expanded
        baseline[f"every_{kind}_snapshot"] = int(full.bytes_per_row(kind) * expanded)
    return baseline


def _bytes_of(connection: duckdb.DuckDBPyConnection, directory: Path, name: str, select_sql: str,
              empty: int) -> tuple[int, int]:
    path = directory / f"{name.replace('.', '__')}.duckdb"
    connection.execute(f"attach '{path}' as measure")
    try:
        connection.execute(f"create table measure.t as {select_sql}")
        rows = connection.execute("select count(*) from measure.t").fetchone()[0]
        connection.execute("checkpoint measure")
    finally:
        connection.execute("detach measure")
    size = path.stat().st_size - empty
    path.unlink()
    return max(size, 0), rows


def measure_by_copy(database: Path, full: FullSnapshots, scratch: Path | None = None) -> StorageReport:
    """Bytes of raw observation/landing tables + every intermediate table, each copied into its own file."""
    with tempfile.TemporaryDirectory(prefix="margins-bench-bytes-", dir=scratch) as temp:
        directory = Path(temp)
        empty = _empty_file_bytes(directory)
        with duckdb.connect() as connection:
            connection.execute("set enable_progress_bar = false")
            connection.execute(f"attach '{database}' as src (read_only)")
            intermediate = [f"intermediate.{row[0]}" for row in connection.execute(
                "select table_name from duckdb_tables() where database_name = 'src' and schema_name = 'intermediate' "
                "order by table_name").fetchall()]
            views = _intermediate_views(connection, "src")
            tables, rows = {}, {}
            for table in (*OBSERVATION_TABLES, *intermediate):
                tables[table], rows[table] = _bytes_of(connection, directory, table, f"select * from src.{table}",
                                                       empty)
            tables.update(dict.fromkeys(views, 0))
            connection.execute("use src")
            baseline = _baseline(connection, full, rows)
    return StorageReport(tables=tables, full_snapshots=baseline, rows=rows, views=views,
                         baseline_method=f"measured at {full.size}, scaled by rows")


BLOCK_BYTES = 262_144


def table_bytes_in_place(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Bytes per table (schema.name) from the block/offset layout of every table's column segments."""
    tables = [f"{schema}.{name}" for schema, name in connection.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database()").fetchall()]
    if not tables:
        return {}
    union = " union all ".join(
        f"select '{table}' as table_name, block_id, block_offset, len(additional_block_ids) as extra_blocks "
        f"from pragma_storage_info('{table}') where persistent and block_id >= 0" for table in tables)
    rows = connection.execute(f"""
        with segments as ({union}),
        spans as (
            select table_name, extra_blocks,
                coalesce(lead(block_offset) over (partition by block_id order by block_offset), {BLOCK_BYTES})
                    - block_offset as span
            from segments
        )
        select table_name, sum(span + extra_blocks * {BLOCK_BYTES})::bigint from spans group by table_name
    """).fetchall()
    sizes = dict.fromkeys(tables, 0)
    sizes.update(dict(rows))
    return sizes


def measure(database: Path, full: FullSnapshots) -> StorageReport:
    """Raw observation/landing tables + every intermediate table, in place; baseline = every snapshot in full,
    at ``full``'s bytes per row."""
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("set enable_progress_bar = false")
        sizes = table_bytes_in_place(connection)
        tables = {table: size for table, size in sizes.items()
                  if table in OBSERVATION_TABLES or table.startswith("intermediate.")}
        rows = {table: connection.execute(f"select count(*) from {table}").fetchone()[0] for table in tables}
        database_name = connection.execute("select current_database()").fetchone()[0]
        views = _intermediate_views(connection, database_name)
        tables.update(dict.fromkeys(views, 0))
        baseline = _baseline(connection, full, rows)
    return StorageReport(tables=tables, full_snapshots=baseline, rows=rows, views=views,
                         baseline_method=f"measured at {full.size}, scaled by rows")
