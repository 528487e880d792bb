"""Bytes of tables, measured as DuckDB stores them.

Main method (in place, seconds even at 3 years): ``pragma storage_info`` of every table in the warehouse lists
each column segment with its block and offset. A segment's bytes are the distance to the next segment in the same
block (or to the block's end, 256 KiB) plus 256 KiB per additional block it spans; a table's bytes are the sum
over its segments. Free blocks of dropped tables are not counted. The baseline "every daily snapshot in full" is
the raw observation tables' own bytes per row times the rows every snapshot would hold if each one stored all of
its rows (a payload fetched on k days counts k times), per kind (GPU, token).

Cross-check (exact; used at 1 month, it costs minutes at 3 years): each table is copied
(``create table … as select * from …``) into its own fresh DuckDB file, which is checkpointed and closed; its
bytes are the file size minus the size of an empty database file: the table's compressed storage as DuckDB writes
it (same compression, no free blocks, no WAL), independent of how fragmented the warehouse file is. There
"every daily snapshot in full" is materialised the same way: one row per offer per snapshot (the observation rows
of the payload each snapshot was taken from, with the snapshot's ``observed_at``), for GPU and token sources.
The two methods agree within ~5-10 % at 1 month (both count at least one 256 KiB block per non-empty table).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

OBSERVATION_TABLES = ("raw.gpu_observations", "raw.token_observations", "raw.snapshots", "raw.fetch_log",
                      "raw.payloads", "raw.quarantine")
FULL_SNAPSHOTS_SQL = {
    "every_gpu_snapshot": """
        select snapshots.observed_at as snapshot_observed_at, observations.*
        from src.raw.gpu_observations as observations
        inner join (select distinct source, sha256, observed_at from src.raw.snapshots) as snapshots
            on snapshots.source = observations.source and snapshots.sha256 = observations.sha256
        order by snapshots.observed_at""",
    "every_token_snapshot": """
        select snapshots.observed_at as snapshot_observed_at, observations.*
        from src.raw.token_observations as observations
        inner join (select distinct source, sha256, observed_at from src.raw.snapshots) as snapshots
            on snapshots.source = observations.source and snapshots.sha256 = observations.sha256
        order by snapshots.observed_at""",
}


@dataclass
class StorageReport:
    tables: dict[str, int]            # raw + intermediate table -> bytes
    full_snapshots: dict[str, int]    # baseline -> bytes
    rows: dict[str, int]

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


def measure_by_copy(database: Path, scratch: Path | None = None) -> StorageReport:
    """Bytes of raw observation/landing tables + every intermediate table, and of every snapshot in full."""
    with tempfile.TemporaryDirectory(prefix="margins-bench-bytes-", dir=scratch) as temp:
        directory = Path(temp)
        empty = _empty_file_bytes(directory)
        with duckdb.connect() as connection:
            connection.execute("set enable_progress_bar = false")
            connection.execute(f"attach '{database}' as src (read_only)")
            intermediate = [f"intermediate.{row[0]}" for row in connection.execute(
                "select table_name from duckdb_tables() where database_name = 'src' and schema_name = 'intermediate' "
                "order by table_name").fetchall()]
            tables, rows = {}, {}
            for table in (*OBSERVATION_TABLES, *intermediate):
                tables[table], rows[table] = _bytes_of(connection, directory, table, f"select * from src.{table}",
                                                       empty)
            baseline = {}
            for name, sql in FULL_SNAPSHOTS_SQL.items():
                baseline[name], rows[name] = _bytes_of(connection, directory, name, sql, empty)
    return StorageReport(tables=tables, full_snapshots=baseline, rows=rows)


BLOCK_BYTES = 262_144
SNAPSHOT_ROWS_SQL = """
    with fetched as (select source, sha256, count(distinct observed_at) as n_snapshots from raw.snapshots group by all),
    payload_rows as (select source, sha256, count(*) as n_rows from raw.{kind}_observations group by all)
    select coalesce(sum(payload_rows.n_rows), 0), coalesce(sum(payload_rows.n_rows * fetched.n_snapshots), 0)
    from payload_rows inner join fetched using (source, sha256)
"""


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


def measure(database: Path) -> StorageReport:
    """Raw observation/landing tables + every intermediate table, in place; baseline = every snapshot in full."""
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("set enable_progress_bar = false")
        sizes = table_bytes_in_place(connection)
        tables = {table: size for table, size in sizes.items()
                  if table in OBSERVATION_TABLES or table.startswith("intermediate.")}
        rows = {table: connection.execute(f"select count(*) from {table}").fetchone()[0] for table in tables}
        baseline = {}
        for kind in ("gpu", "token"):
            stored, expanded = connection.execute(SNAPSHOT_ROWS_SQL.format(kind=kind)).fetchone()
            raw_bytes = sizes.get(f"raw.{kind}_observations", 0)
            baseline[f"every_{kind}_snapshot"] = int(raw_bytes * expanded / stored) if stored else 0
            rows[f"every_{kind}_snapshot"] = int(expanded)
    return StorageReport(tables=tables, full_snapshots=baseline, rows=rows)
