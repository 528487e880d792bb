"""Change-only storage: a payload's rows become change rows against the snapshots around it.

``raw.gpu_observations`` and ``raw.token_observations`` are change logs. An offer gets a row only at a snapshot
where it is new, its values changed, or it was missing (``is_removed``). The state of a scope at any snapshot
is each offer's newest change at or before it, unless that change is a removal. The full payload stays in
``landing/`` (content-addressed), so nothing is lost by not storing unchanged rows again.

A payload normally lands after every snapshot of its scope, and only its own diff is written. A payload that
lands between existing snapshots (a backfill, or bundled history loaded after live fetches) re-derives the
change rows of every later snapshot of its scope from the reconstructed states, so the log always describes
the snapshots in time order.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from pipelines.sources.base import COLUMNS_BY_KIND

KEY_COLUMNS = {
    "gpu": ("provider", "region", "zone", "instance_type", "gpu_name", "gpu_count", "pricing_type"),
    "token": ("provider", "source_model_key"),
}
# Two rows of one offer at one instant (two payloads, or a payload listing it twice): keep the first of these.
PREFERENCE = {
    "gpu": "usd_per_hour, usd_per_gpu_hour",
    "token": "usd_per_1m_input, usd_per_1m_output",
}


def value_columns(kind: str) -> tuple[str, ...]:
    keys = set(KEY_COLUMNS[kind]) | {"scope", "observed_at"}
    return tuple(column for column in COLUMNS_BY_KIND[kind] if column not in keys)


def record_changes(connection: duckdb.DuckDBPyConnection, source_id: str, kind: str, sha256: str,
                   rows_relation: str, observed_at: datetime, mode: str, is_date_estimated: bool,
                   fetch_id: str | None) -> int:
    """Write the change rows and raw.snapshots rows of one payload; returns the number of change rows written.

    ``rows_relation`` holds the payload's full rows: ``scope``, ``observed_at`` (the row's own time, or null for
    the payload's ``observed_at``) and the other observation columns of ``kind``. Runs inside the caller's
    transaction.
    """
    _stage_incoming(connection, kind, rows_relation, observed_at)
    _stage_windows(connection, source_id)
    _stage_timeline(connection, source_id, kind, sha256)
    written = _rewrite_changes(connection, source_id, kind)
    connection.execute(
        """insert or ignore into raw.snapshots
           select distinct ?, scope, observed_at, ?, ?, ?, ?, is_row_dated, now() from incoming""",
        [source_id, sha256, mode, is_date_estimated, fetch_id])
    _drop_staging(connection)
    return written


def stage_known_payload(connection: duckdb.DuckDBPyConnection, source_id: str, kind: str, sha256: str,
                        relation: str) -> None:
    """Reconstruct the rows of a payload landed before (its state at its first snapshot of each scope) into a
    temp table ``relation``, for a fetch that returned the same bytes again. Row-dated scopes (history files)
    are not repeated: their rows belong to their own dates."""
    columns = ", ".join(f"state.{column}" for column in COLUMNS_BY_KIND[kind] if column != "observed_at")
    connection.execute(
        """create or replace temp table known_times as
            select scope, min(observed_at) as observed_at from raw.snapshots
            where source = ? and sha256 = ? and not is_row_dated group by scope""", [source_id, sha256])
    _stage_state(connection, source_id, kind, "known_times", "known_state")
    connection.execute(
        f"create or replace temp table {relation} as "
        f"select {columns}, null::timestamptz as observed_at from known_state as state")
    connection.execute("drop table known_times; drop table known_state")


def _stage_incoming(connection, kind: str, rows_relation: str, observed_at: datetime) -> None:
    """The payload's rows, typed as the raw table (the frame may carry decimals as text), one per offer."""
    types = dict(connection.execute(
        "select column_name, data_type from duckdb_columns() "
        "where schema_name = 'raw' and table_name = ?", [f"{kind}_observations"]).fetchall())
    keys = ", ".join(KEY_COLUMNS[kind])
    typed = ", ".join(f"cast({column} as {types[column]}) as {column}"
                      for column in (*KEY_COLUMNS[kind], *value_columns(kind)))
    connection.execute(
        f"""create or replace temp table incoming as
            select * from (
                select scope, coalesce(observed_at::timestamptz, $observed_at::timestamptz) as observed_at,
                       observed_at is not null as is_row_dated, {typed}
                from {rows_relation}
            )
            qualify row_number() over (
                partition by scope, observed_at, {keys} order by {PREFERENCE[kind]}) = 1""",
        {"observed_at": observed_at})


def _stage_windows(connection, source_id: str) -> None:
    """Per scope: the snapshot just before the payload's first one (the base its diff starts from)."""
    connection.execute(
        """create or replace temp table windows as
           with firsts as (select scope, min(observed_at) as first_at from incoming group by scope)
           select firsts.scope, firsts.first_at, max(snapshots.observed_at) as base_at
           from firsts
           left join raw.snapshots as snapshots
               on snapshots.source = $source and snapshots.scope = firsts.scope
               and snapshots.observed_at < firsts.first_at
           group by firsts.scope, firsts.first_at""", {"source": source_id})


def _stage_state(connection, source_id: str, kind: str, times_relation: str, into: str) -> None:
    """The full state of each (scope, observed_at) in ``times_relation``: each offer's newest change up to it."""
    keys = KEY_COLUMNS[kind]
    key_list = ", ".join(f"changes.{column}" for column in keys)
    fields = ", ".join(f"{column} := changes.{column}" for column in ("sha256", "is_removed", *value_columns(kind)))
    connection.execute(
        f"""create or replace temp table {into} as
            select * exclude (is_removed) from (
                select scope, observed_at, {", ".join(keys)}, unnest(newest)
                from (
                    select times.scope, times.observed_at, {key_list},
                           arg_max(struct_pack({fields}), changes.observed_at) as newest
                    from {times_relation} as times
                    inner join raw.{kind}_observations as changes
                        on changes.source = $source and changes.scope = times.scope
                        and changes.observed_at <= times.observed_at
                    group by times.scope, times.observed_at, {key_list}
                )
            ) where not is_removed""", {"source": source_id})


def _stage_timeline(connection, source_id: str, kind: str, sha256: str) -> None:
    """Full states of the base snapshot, every later existing snapshot and the payload's own, merged."""
    connection.execute(
        """create or replace temp table existing_times as
           select distinct snapshots.scope, snapshots.observed_at
           from raw.snapshots as snapshots
           inner join windows on windows.scope = snapshots.scope
           where snapshots.source = $source
             and snapshots.observed_at >= coalesce(windows.base_at, windows.first_at)""", {"source": source_id})
    _stage_state(connection, source_id, kind, "existing_times", "existing_state")
    keys = ", ".join(KEY_COLUMNS[kind])
    columns = ", ".join(("scope", "observed_at", "sha256", *KEY_COLUMNS[kind], *value_columns(kind)))
    connection.execute(
        f"""create or replace temp table timeline as
            select {columns} from (
                select {columns} from existing_state
                union all
                select scope, observed_at, $sha256 as sha256, {keys}, {", ".join(value_columns(kind))}
                from incoming
            )
            qualify row_number() over (
                partition by scope, observed_at, {keys} order by {PREFERENCE[kind]}, sha256) = 1""",
        {"sha256": sha256})
    connection.execute(
        """create or replace temp table timeline_times as
           select times.scope, times.observed_at,
                  lag(times.observed_at) over (partition by times.scope order by times.observed_at) as previous_at,
                  windows.base_at
           from (select scope, observed_at from existing_times
                 union select scope, observed_at from incoming) as times
           inner join windows on windows.scope = times.scope""")


def _rewrite_changes(connection, source_id: str, kind: str) -> int:
    keys = KEY_COLUMNS[kind]
    values = value_columns(kind)
    same_key = " and ".join(f"other.{column} is not distinct from this.{column}" for column in keys)
    changed = " or ".join(f"other.{column} is distinct from this.{column}" for column in values)
    key_list = ", ".join(f"this.{column}" for column in keys)
    value_list = ", ".join(f"this.{column}" for column in values)
    null_values = ", ".join(f"null as {column}" for column in values)
    columns = ", ".join(("source", "sha256", "scope", "observed_at", "is_removed", *keys, *values))
    after_base = "(times.base_at is null or times.observed_at > times.base_at)"
    connection.execute(
        f"""create or replace temp table new_changes as
            select $source as source, this.sha256, this.scope, this.observed_at, false as is_removed,
                   {key_list}, {value_list}
            from timeline_times as times
            inner join timeline as this on this.scope = times.scope and this.observed_at = times.observed_at
            left join timeline as other
                on other.scope = times.scope and other.observed_at = times.previous_at and {same_key}
            where {after_base} and (other.scope is null or {changed})
            union all
            select $source, coalesce(current.sha256, this.sha256), this.scope, times.observed_at, true,
                   {key_list}, {null_values}
            from timeline_times as times
            inner join timeline as this on this.scope = times.scope and this.observed_at = times.previous_at
            left join timeline as other
                on other.scope = times.scope and other.observed_at = times.observed_at and {same_key}
            left join (select scope, observed_at, min(sha256) as sha256 from timeline group by all) as current
                on current.scope = times.scope and current.observed_at = times.observed_at
            where {after_base} and other.scope is null""", {"source": source_id})
    connection.execute(
        f"""delete from raw.{kind}_observations as changes
            using windows
            where changes.source = $source and changes.scope = windows.scope
              and (windows.base_at is null or changes.observed_at > windows.base_at)""", {"source": source_id})
    connection.execute(f"insert into raw.{kind}_observations ({columns}) select {columns} from new_changes")
    return connection.execute("select count(*) from new_changes").fetchone()[0]


def _drop_staging(connection) -> None:
    for table in ("incoming", "windows", "existing_times", "existing_state", "timeline", "timeline_times",
                  "new_changes"):
        connection.execute(f"drop table if exists {table}")
