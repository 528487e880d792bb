"""The working DuckDB file, its raw schema, the writers' lock, and publishing the readers' copy.

DuckDB allows one writing process, and a reader in another process blocks a writer. So the pipeline
writes only the working file, under a lock file, and after each successful build copies it atomically
(temp file, then rename) over ``margins.duckdb``, the only file readers open.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from pipelines.diskspace import ensure_free_space
from pipelines.settings import Settings

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.fetch_log (
    fetch_id varchar primary key,
    run_id varchar,
    source varchar not null,
    payload_name varchar,
    url varchar,
    mode varchar not null,            -- live | bundled | backfill
    status varchar not null,          -- ok | error | rejected | skipped
    fetched_at timestamptz not null,
    observed_at timestamptz,
    sha256 varchar,
    bytes bigint,
    rows_parsed integer,
    rows_quarantined integer,
    error varchar                     -- why (error, rejected, suspect, skipped), or a note on an applied payload (ok)
);
create table if not exists raw.payloads (
    source varchar not null,
    sha256 varchar not null,
    payload_name varchar,
    path varchar not null,
    bytes bigint not null,
    parse_status varchar not null,    -- parsed | rejected
    rows integer,
    first_landed_at timestamptz not null,
    primary key (source, sha256)
);
create table if not exists raw.snapshots (
    source varchar not null,
    scope varchar not null,
    observed_at timestamptz not null,
    sha256 varchar not null,
    mode varchar not null,
    is_date_estimated boolean not null,
    first_fetch_id varchar,
    is_row_dated boolean not null,    -- the rows carry their own time (history files)
    landed_at timestamptz not null,   -- when this snapshot was loaded (incremental dbt models start from it)
    primary key (source, scope, observed_at, sha256)
);
-- The observation tables are change logs (pipelines/changes.py): a row only where an offer is new, changed
-- or missing (is_removed) at a snapshot of its scope.
create table if not exists raw.gpu_observations (
    source varchar not null,
    sha256 varchar not null,          -- the payload that showed the change
    scope varchar not null,
    observed_at timestamptz not null, -- the snapshot the change was seen at
    is_removed boolean not null,
    provider varchar not null,
    region varchar,
    zone varchar,
    instance_type varchar,
    gpu_name varchar,
    gpu_memory_gb double,
    gpu_count decimal(8, 3),
    pricing_type varchar not null,    -- on_demand | spot | unknown
    usd_per_hour decimal(18, 6),
    usd_per_gpu_hour decimal(18, 6),
    effective_date date
);
create table if not exists raw.token_observations (
    source varchar not null,
    sha256 varchar not null,
    scope varchar not null,
    observed_at timestamptz not null,
    is_removed boolean not null,
    provider varchar not null,
    source_model_key varchar not null,
    mode varchar,
    usd_per_1m_input decimal(18, 6),
    usd_per_1m_output decimal(18, 6),
    usd_per_1m_cached_input decimal(18, 6),
    usd_per_1m_cache_write decimal(18, 6),
    usd_per_1m_batch_input decimal(18, 6),
    usd_per_1m_batch_output decimal(18, 6),
    long_context_threshold_tokens bigint,
    usd_per_1m_input_long_context decimal(18, 6),
    usd_per_1m_output_long_context decimal(18, 6),
    max_input_tokens bigint,
    deprecation_date date,
    is_free boolean,
    has_variable_price boolean
);
create table if not exists raw.quarantine (
    source varchar not null,
    sha256 varchar not null,
    row_json varchar,
    rule varchar not null,
    reason varchar not null,
    landed_at timestamptz not null
);
-- Live batches held as suspect by pipelines/plausibility.py (and when a second fetch confirmed them).
create table if not exists raw.suspect_batches (
    source varchar not null,
    sha256 varchar not null,
    payload_name varchar,
    reason varchar not null,          -- offer_drop | uniform_move
    current_offers bigint not null,   -- offers in the current state of the batch's scopes
    incoming_offers bigint not null,  -- offers in the batch
    matched_offers bigint,            -- offers priced in both (uniform_move)
    moved_offers bigint,              -- of those, offers whose price moved by the factor (uniform_move)
    factor double,                    -- the median price ratio (uniform_move)
    state_observed_at timestamptz,    -- the newest snapshot of the current state
    held_at timestamptz not null,
    confirmed_at timestamptz,         -- when a second fetch confirmed it (then it was applied)
    confirmed_by_sha256 varchar,
    primary key (source, sha256)
);
"""

_held = threading.local()


class WarehouseLockedError(RuntimeError):
    """Another refresh holds the writers' lock."""


@contextlib.contextmanager
def writer_lock(settings: Settings, timeout_s: float | None = None) -> Iterator[None]:
    """Serialise writers across processes with an flock on ``refresh.lock``; re-entrant in a thread.

    ``timeout_s=None`` waits (from ``MARGINS_LOCK_TIMEOUT``, default 1800 s); ``0`` fails at once.
    """
    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    if timeout_s is None:
        timeout_s = float(os.environ.get("MARGINS_LOCK_TIMEOUT", "1800"))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.lock_file, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"another refresh holds {settings.lock_file}; wait for it to finish "
                        f"(or raise MARGINS_LOCK_TIMEOUT)") from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


def connect_working(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open the working database read-write and make sure the raw schema exists (caller holds the lock)."""
    settings.working_db.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(settings.working_db))
    connection.execute(RAW_DDL)
    _check_layout(connection, settings)
    return connection


class WarehouseLayoutError(RuntimeError):
    """The working database was written by an older layout of the raw schema."""


def _check_layout(connection: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    # duckdb_columns(), not information_schema.columns (a view over it): a quarter of the time, on every connection
    has_change_log = connection.execute(
        "select count(*) from duckdb_columns() "
        "where schema_name = 'raw' and table_name = 'gpu_observations' and column_name = 'is_removed'"
    ).fetchone()[0]
    if not has_change_log:
        connection.close()
        raise WarehouseLayoutError(
            f"{settings.working_db} stores every snapshot in full (the layout before change-only storage); "
            f"move it aside and run `margins refresh` to rebuild it from the bundled history "
            f"(landed payloads stay in {settings.landing_dir})")


def publish(settings: Settings) -> Path:
    """Copy the working database over the published one atomically (temp file + rename)."""
    with duckdb.connect(str(settings.working_db)) as connection:
        connection.execute("checkpoint")
    target = settings.published_db
    ensure_free_space(target.parent, settings.working_db.stat().st_size, "publish the warehouse")
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(settings.working_db, temp)
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)  # a partial copy (e.g. the disk filled up) must not stay behind
        raise
    return target


# A reader's connection can touch nothing but the published file: no other file is read or written (COPY,
# read_csv, ATTACH, EXPORT), no extension is installed or loaded, and no setting can be changed back.
READER_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
    # the price-history views' ASOF join (macros/versions_from_changes.sql): see profiles.yml
    "asof_loop_join_threshold": 0,
}


def connect_published(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open the published copy read-only, sealed (READER_CONFIG); a clear error when nothing was published yet."""
    if not settings.published_db.exists():
        raise FileNotFoundError(
            f"no published warehouse at {settings.published_db}: run `margins refresh` (or `make run`) first")
    return duckdb.connect(str(settings.published_db), read_only=True, config=READER_CONFIG)


def describe_query_error(error: duckdb.Error) -> str:
    """One line for a failed reader query; a refusal by READER_CONFIG says what the door does not allow."""
    detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
    refused = isinstance(error, duckdb.PermissionException) or "configuration has been locked" in detail \
        or "read-only mode" in detail
    if refused:
        return (f"refused: the warehouse is open read-only, and queries may not read or write other files, "
                f"attach databases, install or load extensions or change settings ({detail})")
    return detail


# --- readers' queries --------------------------------------------------------------------------------------------

MART_SCHEMA = "marts"
STATUS_COLUMNS = ("source", "kind", "last_success_at", "is_stale", "last_error", "rows_last_success",
                  "newest_observed_at", "n_snapshots", "upstream_changed_at", "is_upstream_stale")


class QueryError(RuntimeError):
    """A reader's query failed; the message is one line saying why."""


def read_query(connection: duckdb.DuckDBPyConnection, query: str,
               describe: Callable[[duckdb.Error], object] = describe_query_error) -> tuple[list[str], list[tuple]]:
    """One query on a reader's connection: its column names and rows. A failure raises QueryError with
    ``describe``'s line for it."""
    try:
        cursor = connection.execute(query)
        rows = cursor.fetchall()
    except duckdb.Error as error:
        raise QueryError(str(describe(error))) from None
    return [item[0] for item in cursor.description or []], rows


def source_status(connection: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    """`margins status`: per source, its last success, staleness, last error, rows and upstream freshness."""
    cursor = connection.execute(f"select {', '.join(STATUS_COLUMNS)} from marts.source_status order by source")
    return [item[0] for item in cursor.description], cursor.fetchall()


def source_freshness(connection: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """Per source, (source, newest_observed_at, is_stale) from marts.source_status (the refresh summary)."""
    return {row[0]: row for row in connection.execute(
        "select source, newest_observed_at, is_stale from marts.source_status").fetchall()}


def upstream_stale_sources(connection: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(source, upstream_changed_at, upstream_stale_after_days) of each source whose upstream stopped changing."""
    return connection.execute(
        "select source, upstream_changed_at, upstream_stale_after_days from marts.source_status "
        "where is_upstream_stale order by source").fetchall()


def mart_row_counts(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(schema.table, rows) of every mart."""
    # no bound parameter: DuckDB's Python client imports pandas (~0.4 s) for the first one; `margins status` needs none
    tables = [row[0] for row in connection.execute(
        f"select table_name from information_schema.tables where table_schema = '{MART_SCHEMA}' order by table_name"
    ).fetchall()]
    return [(f"{MART_SCHEMA}.{table}",
             connection.execute(f'select count(*) from {MART_SCHEMA}."{table}"').fetchone()[0])
            for table in tables]
