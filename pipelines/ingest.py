"""One source's step: fetch (or take the bundled snapshots) -> land -> parse -> validate -> load raw.

Each payload is loaded in one transaction: its fetch-log row, its parsed rows as changes against the
snapshots around it (pipelines/changes.py), its quarantined rows and the snapshots it adds. A payload
that fails parsing or the batch suite is rejected whole; the landed file stays and the source keeps serving
its last good data.
A failing source never raises: it reports its status, so the other sources and the build go on.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

from pipelines.changes import record_changes, stage_known_payload
from pipelines.http import FetchError, HttpClient
from pipelines.landing import land
from pipelines.settings import Settings
from pipelines.sources.base import (
    COLUMNS_BY_KIND,
    ParseError,
    Payload,
    PreviousFetches,
    Reject,
    Source,
    SourceSkipped,
)
from pipelines.validation import SuiteResult, screen_rows, validate_batch
from pipelines.warehouse import connect_working, writer_lock

REJECT_SAMPLES = 20


@dataclass
class PayloadOutcome:
    name: str
    mode: str
    sha256: str
    status: str                 # ok | rejected
    is_new: bool
    rows: int = 0
    quarantined: int = 0
    error: str | None = None
    suite: SuiteResult | None = None
    reject_samples: list[Reject] = field(default_factory=list)


@dataclass
class SourceOutcome:
    source: str
    status: str = "ok"          # ok | bundled | failed | rejected | skipped
    message: str | None = None
    payloads: list[PayloadOutcome] = field(default_factory=list)

    @property
    def new_rows(self) -> int:
        return sum(p.rows for p in self.payloads if p.is_new and p.status == "ok")

    @property
    def quarantined(self) -> int:
        return sum(p.quarantined for p in self.payloads if p.is_new)

    @property
    def rejected(self) -> list[PayloadOutcome]:
        return [p for p in self.payloads if p.status == "rejected"]


def ingest_source(source: Source, settings: Settings, http: HttpClient, run_id: str) -> SourceOutcome:
    outcome = SourceOutcome(source.id)
    with writer_lock(settings), connect_working(settings) as connection:
        first_time = not _has_landed(connection, source.id)
    if settings.offline or first_time:
        _load_all(source, settings, source.bundled(), outcome, run_id)
        if outcome.payloads:
            outcome.status = "bundled"
    if settings.offline:
        _log_attempt(settings, source.id, run_id, "skipped", "offline (MARGINS_OFFLINE=1 or --offline)")
        outcome.message = "offline: bundled snapshots only" if outcome.payloads else "offline: no bundled snapshots"
        if not outcome.payloads:
            outcome.status = "skipped"
        return outcome
    try:
        previous = _previous_fetches(settings, source.id)
        _load_all(source, settings, source.fetch(settings, http, previous), outcome, run_id)
        if outcome.status != "bundled" or any(p.mode == "live" for p in outcome.payloads):
            outcome.status = "ok"
    except SourceSkipped as skipped:
        outcome.status = "bundled" if outcome.payloads else "skipped"
        outcome.message = str(skipped)
        _log_attempt(settings, source.id, run_id, "skipped", str(skipped))
    except FetchError as error:
        outcome.status, outcome.message = "failed", str(error)
        _log_attempt(settings, source.id, run_id, "error", str(error))
    if outcome.rejected and outcome.status != "failed":
        outcome.status = "rejected"
        outcome.message = "; ".join(p.error or "" for p in outcome.rejected)
    return outcome


def _load_all(source, settings, payloads, outcome: SourceOutcome, run_id: str) -> None:
    for payload in payloads:
        outcome.payloads.append(load_payload(source, settings, payload, run_id))


def load_payload(source: Source, settings: Settings, payload: Payload, run_id: str) -> PayloadOutcome:
    landed = land(settings, source.id, payload)
    if payload.path is not None:  # landing moved a streamed download: parse the landed file
        payload = replace(payload, path=landed.path)
    fetched_at = datetime.now(UTC)
    observed_at = payload.observed_at or fetched_at
    with writer_lock(settings), connect_working(settings) as connection:
        known = connection.execute(
            "select parse_status, rows from raw.payloads where source = ? and sha256 = ?",
            [source.id, landed.sha256]).fetchone()
        result = PayloadOutcome(payload.name, payload.mode, landed.sha256, "ok", is_new=known is None)
        if known is None:
            validated = _parse_and_validate(source, payload, result, _previous_rows(connection, source.id, payload))
        else:
            validated = None
            result.rows = known[1] or 0
            if known[0] == "rejected":
                result.status = "rejected"
                result.error = (f"{source.id}: {payload.name}: payload was rejected before "
                                f"(sha256 {landed.sha256[:12]})")
        connection.execute("begin transaction")
        try:
            fetch_id = _insert_fetch(connection, source.id, payload, landed, fetched_at, observed_at, run_id,
                                     result)
            if validated is not None:
                _insert_payload(connection, source, payload, landed, fetched_at, result, validated)
            if result.status == "ok":
                _record_rows(connection, source, payload, landed.sha256, observed_at, fetch_id, validated)
            connection.execute("commit")
        except BaseException:
            connection.execute("rollback")
            raise
    return result


@dataclass
class Validated:
    rows: list[dict[str, Any]]        # rows to load (empty when the batch is rejected)
    rejects: list[Reject]             # rows (or the whole payload) for raw.quarantine


def _parse_and_validate(source: Source, payload: Payload, result: PayloadOutcome,
                        previous_rows: int | None) -> Validated:
    try:
        batch = source.parse(payload)
    except ParseError as error:
        result.status, result.error = "rejected", f"{source.id}: {error}"
        return Validated([], [Reject("parseable_payload", str(error), {"payload": payload.name})])
    screened = screen_rows(source.kind, batch.rows)
    rejects = batch.rejects + screened.rejects
    min_rows = previous_rows // 2 if previous_rows else None
    result.suite = validate_batch(source.kind, screened.rows, source.id, min_rows=min_rows)
    result.quarantined = len(rejects)
    result.reject_samples = rejects[:REJECT_SAMPLES]
    if not result.suite.success:
        result.status = "rejected"
        result.error = f"{source.id}: {payload.name}: batch failed validation: {result.suite.summary()}"
        return Validated([], rejects + [Reject("batch_suite", result.suite.summary(), {"payload": payload.name})])
    result.rows = len(screened.rows)
    return Validated(screened.rows, rejects)


def _previous_rows(connection: duckdb.DuckDBPyConnection, source_id: str, payload: Payload) -> int | None:
    """Rows of the previous live fetch of the same payload (same cloud/region list), for the row-count rule."""
    if payload.mode != "live":
        return None
    row = connection.execute(
        """select rows_parsed from raw.fetch_log
           where source = ? and payload_name = ? and mode = 'live' and status = 'ok'
           order by fetched_at desc limit 1""", [source_id, payload.name]).fetchone()
    return row[0] if row else None


def _insert_fetch(connection, source_id, payload, landed, fetched_at, observed_at, run_id, result) -> str:
    fetch_id = str(uuid.uuid4())
    connection.execute(
        "insert into raw.fetch_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [fetch_id, run_id, source_id, payload.name, payload.url, payload.mode, result.status, fetched_at,
         observed_at, landed.sha256, landed.bytes, result.rows, result.quarantined, result.error])
    return fetch_id


def _insert_payload(connection, source, payload, landed, fetched_at, result, validated: Validated) -> None:
    connection.execute(
        "insert into raw.payloads values (?, ?, ?, ?, ?, ?, ?, ?)",
        [source.id, landed.sha256, payload.name, str(landed.path), landed.bytes,
         "parsed" if result.status == "ok" else "rejected", result.rows, fetched_at])
    _insert_quarantine(connection, source.id, landed.sha256, validated.rejects, fetched_at)


def _record_rows(connection: duckdb.DuckDBPyConnection, source: Source, payload: Payload, sha256: str,
                 observed_at: datetime, fetch_id: str, validated: Validated | None) -> None:
    """Store the payload's rows as changes (pipelines.changes); a payload landed before is reconstructed."""
    if validated is None:
        if _snapshot_exists(connection, source.id, sha256, observed_at):
            return  # the same payload at the same time (e.g. bundled history loaded again): nothing new
        stage_known_payload(connection, source.id, source.kind, sha256, "incoming_rows")
    elif validated.rows:
        connection.register("incoming_rows", _rows_frame(source, validated.rows))
    else:
        return
    try:
        record_changes(connection, source.id, source.kind, sha256, "incoming_rows", observed_at, payload.mode,
                       payload.is_date_estimated, fetch_id)
    finally:
        if validated is None:
            connection.execute("drop table if exists incoming_rows")
        else:
            connection.unregister("incoming_rows")


def _snapshot_exists(connection: duckdb.DuckDBPyConnection, source_id: str, sha256: str, observed_at) -> bool:
    return connection.execute(
        "select count(*) from raw.snapshots where source = ? and sha256 = ? and observed_at = ?",
        [source_id, sha256, observed_at]).fetchone()[0] > 0


def _rows_frame(source: Source, rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = COLUMNS_BY_KIND[source.kind]
    return pd.DataFrame.from_records(
        [{column: _sql_value(row.get(column)) for column in columns} for row in rows], columns=list(columns))


def _insert_quarantine(connection, source_id: str, sha256: str, rejects: list[Reject], landed_at) -> None:
    if rejects:
        connection.executemany(
            "insert into raw.quarantine values (?, ?, ?, ?, ?, ?)",
            [[source_id, sha256, json.dumps(_jsonable(r.row), default=str)[:10000], r.rule, r.reason[:1000],
              landed_at] for r in rejects])


def _log_attempt(settings: Settings, source_id: str, run_id: str, status: str, message: str) -> None:
    with writer_lock(settings), connect_working(settings) as connection:
        connection.execute(
            "insert into raw.fetch_log (fetch_id, run_id, source, mode, status, fetched_at, error) "
            "values (?, ?, ?, 'live', ?, ?, ?)",
            [str(uuid.uuid4()), run_id, source_id, status, datetime.now(UTC), message])


def _previous_fetches(settings: Settings, source_id: str) -> PreviousFetches:
    with writer_lock(settings), connect_working(settings) as connection:
        rows = connection.execute(
            """select url, arg_max(sha256, fetched_at) from raw.fetch_log
               where source = ? and mode = 'live' and status = 'ok' and url is not null group by url""",
            [source_id]).fetchall()
    return PreviousFetches(settings.landing_dir / source_id, dict(rows))


def _has_landed(connection: duckdb.DuckDBPyConnection, source_id: str) -> bool:
    return connection.execute(
        "select count(*) from raw.payloads where source = ? and parse_status = 'parsed'", [source_id]
    ).fetchone()[0] > 0


def _sql_value(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _sql_value(value) for key, value in row.items()}
