"""One source's step: fetch (or take the bundled snapshots) -> land -> parse -> validate -> load raw.

Each payload is loaded in one transaction: its fetch-log row, its parsed rows as changes against the
snapshots around it (pipelines/changes.py), its quarantined rows and the snapshots it adds. A payload
that fails parsing or the batch suite, or raises anything at all while parsed, validated or loaded, is rejected
whole (recorded, so the same bytes are not parsed again); the landed file stays and the source keeps serving its
last good data. A live batch far from the current state (pipelines/plausibility.py) is held as suspect until a
second fetch confirms it.
A failing source never raises: it reports its status, so the other sources and the build go on.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

from pipelines import plausibility
from pipelines.changes import record_changes, stage_known_payload
from pipelines.freshness import UpstreamFreshness, upstream_freshness
from pipelines.http import FetchError, HttpClient, redact
from pipelines.landing import land, record_landing
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
    status: str                 # ok | rejected | suspect (held until a second fetch confirms it)
    is_new: bool
    rows: int = 0
    quarantined: int = 0
    error: str | None = None
    suite: SuiteResult | None = None
    reject_samples: list[Reject] = field(default_factory=list)
    note: str | None = None     # e.g. a held batch confirmed, a damaged landed file replaced
    suspicion: plausibility.Suspicion | None = None
    confirms: str | None = None  # sha256 of the held batch this one confirms


@dataclass
class SourceOutcome:
    source: str
    status: str = "ok"          # ok | bundled | failed | rejected | suspect | skipped
    message: str | None = None
    payloads: list[PayloadOutcome] = field(default_factory=list)
    # when the source's parsed content last changed, read at the end of the step (None if the step failed first)
    freshness: UpstreamFreshness | None = None

    @property
    def new_rows(self) -> int:
        return sum(p.rows for p in self.payloads if p.is_new and p.status == "ok")

    @property
    def quarantined(self) -> int:
        return sum(p.quarantined for p in self.payloads if p.is_new)

    @property
    def rejected(self) -> list[PayloadOutcome]:
        return [p for p in self.payloads if p.status == "rejected"]

    @property
    def suspect(self) -> list[PayloadOutcome]:
        return [p for p in self.payloads if p.status == "suspect"]

    def payload_lines(self) -> list[str]:
        """One line per payload that was rejected, held or needs a word (for the summary table)."""
        return [p.error or f"{self.source}: {p.name}: {p.note}" for p in self.payloads if p.status != "ok" or p.note]


def ingest_source(source: Source, settings: Settings, http: HttpClient, run_id: str) -> SourceOutcome:
    """Never raises for anything the source or its data does: an unexpected error fails this source alone."""
    outcome = SourceOutcome(source.id)
    try:
        return _ingest(source, settings, http, run_id, outcome)
    except Exception as error:  # noqa: BLE001 - one source's fault must not stop the other sources or the build
        message = redact(f"{source.id}: {type(error).__name__}: {_first_line(error)}")
        outcome.status, outcome.message = "failed", message
        with contextlib.suppress(Exception):
            _log_attempt(settings, source.id, run_id, "error", message)
        return outcome


def _ingest(source: Source, settings: Settings, http: HttpClient, run_id: str,
            outcome: SourceOutcome) -> SourceOutcome:
    # one connection for the whole step (bundled snapshots, the live fetch, the fetch log, the upstream freshness):
    # opening the working database costs ~50 ms and each close checkpoints it, more than most of what a step does
    # (an offline refresh mostly finds its bundled payloads stored; SkyPilot lands one file per cloud). The refresh
    # holds the writers' lock throughout, so keeping it open during the fetch blocks no one.
    with writer_lock(settings), connect_working(settings) as connection:
        if settings.offline or not _has_landed(connection, source.id):
            _load_all(source, settings, source.bundled(), outcome, run_id, connection)
            if outcome.payloads:
                outcome.status = "bundled"
        if settings.offline:
            _log_attempt(settings, source.id, run_id, "skipped", "offline (MARGINS_OFFLINE=1 or --offline)",
                         connection)
            outcome.message = "offline: bundled snapshots only" if outcome.payloads else "offline: no bundled snapshots"
            if not outcome.payloads:
                outcome.status = "skipped"
        else:
            _fetch_live(source, settings, http, run_id, outcome, connection)
        with contextlib.suppress(ValueError):  # e.g. no row in the sources seed: the freshness check says so
            outcome.freshness = upstream_freshness(connection, source.id, source.kind)
    return outcome


def _fetch_live(source: Source, settings: Settings, http: HttpClient, run_id: str, outcome: SourceOutcome,
                connection: duckdb.DuckDBPyConnection) -> None:
    try:
        previous = _previous_fetches(connection, settings, source.id)
        _load_all(source, settings, source.fetch(settings, http, previous), outcome, run_id, connection)
        if outcome.status != "bundled" or any(p.mode == "live" for p in outcome.payloads):
            outcome.status = "ok"
    except SourceSkipped as skipped:
        outcome.status = "bundled" if outcome.payloads else "skipped"
        outcome.message = str(skipped)
        _log_attempt(settings, source.id, run_id, "skipped", str(skipped), connection)
    except FetchError as error:
        outcome.status, outcome.message = "failed", str(error)
        _log_attempt(settings, source.id, run_id, "error", str(error), connection)
    if outcome.rejected and outcome.status != "failed":
        outcome.status = "rejected"
        outcome.message = "; ".join(p.error or "" for p in outcome.rejected)
    elif outcome.suspect and outcome.status != "failed":
        outcome.status = "suspect"
        outcome.message = "; ".join(p.error or "" for p in outcome.suspect)
    elif not outcome.message and any(p.note for p in outcome.payloads):
        outcome.message = "; ".join(p.note for p in outcome.payloads if p.note)


def _load_all(source, settings, payloads, outcome: SourceOutcome, run_id: str,
              connection: duckdb.DuckDBPyConnection) -> None:
    for payload in payloads:
        outcome.payloads.append(load_payload(source, settings, payload, run_id, connection=connection))


def load_payload(source: Source, settings: Settings, payload: Payload, run_id: str, journal: bool = True,
                 fetch_id: str | None = None, fetched_at: datetime | None = None,
                 connection: duckdb.DuckDBPyConnection | None = None) -> PayloadOutcome:
    """Land one payload, then parse, validate and load it in one transaction.

    When replaying the landing journal (pipelines/recovery.py), ``journal=False`` and the entry's own fetch id and
    time are passed, so a replayed fetch is the same fetch. ``connection``: an open working database (the caller
    holds the writer lock); else one is opened for this payload.
    """
    landed = land(settings, source.id, payload)
    if payload.path is not None:  # landing moved a streamed download: parse the landed file
        payload = replace(payload, path=landed.path)
    fetched_at = fetched_at or datetime.now(UTC)
    fetch_id = fetch_id or str(uuid.uuid4())
    if journal:
        record_landing(settings, source.id, payload, landed.sha256, fetch_id, fetched_at)
    if connection is not None:
        return _load_landed(connection, source, payload, landed, fetch_id, fetched_at, run_id)
    with writer_lock(settings), connect_working(settings) as working:
        return _load_landed(working, source, payload, landed, fetch_id, fetched_at, run_id)


def _load_landed(connection, source: Source, payload: Payload, landed, fetch_id: str, fetched_at: datetime,
                 run_id: str) -> PayloadOutcome:
    observed_at = payload.observed_at or fetched_at
    known = connection.execute(
        "select parse_status, rows from raw.payloads where source = ? and sha256 = ?",
        [source.id, landed.sha256]).fetchone()
    # a batch held as suspect was never applied: if this fetch confirms it, its rows are new now
    result = PayloadOutcome(payload.name, payload.mode, landed.sha256, "ok",
                            is_new=known is None or known[0] == "suspect")
    if landed.repaired:
        result.note = f"landed file {landed.sha256[:12]} was damaged (sha256 mismatch); replaced by this fetch"
    validated = None
    if known is None or known[0] == "suspect":
        validated = _parse_and_validate(source, payload, result)
        if result.status == "ok" and payload.mode == "live":
            _judge_plausibility(connection, source, payload, landed.sha256, validated, result)
    else:
        result.rows = known[1] or 0
        if known[0] == "rejected":
            result.status = "rejected"
            result.error = (f"{source.id}: {payload.name}: payload was rejected before "
                            f"(sha256 {landed.sha256[:12]})")
    try:
        _write(connection, source, payload, landed, fetch_id, fetched_at, observed_at, run_id, result, validated,
               known is None)
    except duckdb.Error as error:
        # a value no row rule foresaw would not load: reject the payload, keep the fetch on record
        result.status = "rejected"
        result.error = f"{source.id}: {payload.name}: could not be loaded: {_first_line(error)}"
        validated = Validated([], [Reject("loadable_batch", result.error, {"payload": payload.name})])
        _write(connection, source, payload, landed, fetch_id, fetched_at, observed_at, run_id, result, validated,
               known is None)
    return result


def _write(connection, source, payload, landed, fetch_id, fetched_at, observed_at, run_id, result, validated,
           is_new: bool) -> None:
    connection.execute("begin transaction")
    try:
        _insert_fetch(connection, fetch_id, source.id, payload, landed, fetched_at, observed_at, run_id, result)
        if validated is not None:
            _upsert_payload(connection, source, payload, landed, fetched_at, result, validated, is_new)
        if result.status == "suspect":
            plausibility.hold(connection, source.id, payload.name, landed.sha256, result.suspicion, fetched_at)
        if result.status == "ok":
            if result.confirms:
                plausibility.confirm(connection, source.id, payload.name, landed.sha256, fetched_at)
            _record_rows(connection, source, payload, landed.sha256, observed_at, fetch_id, validated)
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise


def _judge_plausibility(connection, source: Source, payload: Payload, sha256: str, validated: Validated,
                        result: PayloadOutcome) -> None:
    """Hold the batch as suspect when it is far from the current state, unless it confirms a held one."""
    if not validated.rows:
        return
    connection.register("plausibility_rows", _rows_frame(source, validated.rows))
    try:
        suspicion = plausibility.check_batch(connection, source.id, source.kind, "plausibility_rows")
    finally:
        connection.unregister("plausibility_rows")
    if suspicion is None:
        return
    held = plausibility.held_match(connection, source.id, payload.name, sha256, suspicion)
    if held is not None:
        result.confirms = held
        result.note = f"{suspicion.describe()}: confirmed by a second fetch, applied"
        return
    result.status, result.suspicion = "suspect", suspicion
    result.error = (f"{source.id}: {payload.name}: held as suspect, not applied: {suspicion.describe()}; "
                    f"a second fetch of the same shape confirms it")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


@dataclass
class Validated:
    rows: list[dict[str, Any]]        # rows to load (empty when the batch is rejected)
    rejects: list[Reject]             # rows (or the whole payload) for raw.quarantine


def _parse_and_validate(source: Source, payload: Payload, result: PayloadOutcome) -> Validated:
    try:
        return _checked_batch(source, payload, result)
    except Exception as error:  # noqa: BLE001 - any fault in one payload rejects that payload only
        kind = "" if isinstance(error, ParseError) else f"{type(error).__name__}: "
        reason = f"{kind}{_first_line(error)}"
        result.status, result.suite = "rejected", None
        result.error = f"{source.id}: {payload.name}: {reason}" if kind else f"{source.id}: {reason}"
        return Validated([], [Reject("parseable_payload", reason, {"payload": payload.name})])


def _checked_batch(source: Source, payload: Payload, result: PayloadOutcome) -> Validated:
    batch = source.parse(payload)
    screened = screen_rows(source.kind, batch.rows)
    rejects = batch.rejects + screened.rejects
    result.suite = validate_batch(source.kind, screened.rows, source.id)
    result.quarantined = len(rejects)
    result.reject_samples = rejects[:REJECT_SAMPLES]
    if not result.suite.success:
        result.status = "rejected"
        result.error = f"{source.id}: {payload.name}: batch failed validation: {result.suite.summary()}"
        return Validated([], rejects + [Reject("batch_suite", result.suite.summary(), {"payload": payload.name})])
    result.rows = len(screened.rows)
    return Validated(screened.rows, rejects)


def _insert_fetch(connection, fetch_id, source_id, payload, landed, fetched_at, observed_at, run_id,
                  result) -> None:
    connection.execute(
        "insert into raw.fetch_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [fetch_id, run_id, source_id, payload.name, redact(payload.url) if payload.url else None, payload.mode,
         result.status, fetched_at, observed_at, landed.sha256, landed.bytes, result.rows, result.quarantined,
         _safe_text(redact(result.error or result.note)) if result.error or result.note else None])


def _upsert_payload(connection, source, payload, landed, fetched_at, result, validated: Validated,
                    is_new: bool) -> None:
    status = {"ok": "parsed", "suspect": "suspect"}.get(result.status, "rejected")
    connection.execute(
        """insert into raw.payloads values (?, ?, ?, ?, ?, ?, ?, ?)
           on conflict (source, sha256) do update set parse_status = excluded.parse_status, rows = excluded.rows""",
        [source.id, landed.sha256, payload.name, str(landed.path), landed.bytes, status, result.rows, fetched_at])
    if is_new:
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
            [[source_id, sha256, json.dumps(_jsonable(r.row), default=str)[:10000], r.rule,
              _safe_text(r.reason)[:1000], landed_at] for r in rejects])


def _log_attempt(settings: Settings, source_id: str, run_id: str, status: str, message: str,
                 connection: duckdb.DuckDBPyConnection | None = None) -> None:
    if connection is None:
        with writer_lock(settings), connect_working(settings) as working:
            _log_attempt(settings, source_id, run_id, status, message, working)
        return
    connection.execute(
        "insert into raw.fetch_log (fetch_id, run_id, source, mode, status, fetched_at, error) "
        "values (?, ?, ?, 'live', ?, ?, ?)",
        [str(uuid.uuid4()), run_id, source_id, status, datetime.now(UTC), _safe_text(redact(message))])


def _previous_fetches(connection: duckdb.DuckDBPyConnection, settings: Settings, source_id: str
                      ) -> PreviousFetches:
    rows = connection.execute(
        """select url, arg_max(sha256, fetched_at) from raw.fetch_log
           where source = ? and mode = 'live' and status = 'ok' and url is not null group by url""",
        [source_id]).fetchall()
    return PreviousFetches(settings.landing_dir / source_id, dict(rows))


def _has_landed(connection: duckdb.DuckDBPyConnection, source_id: str) -> bool:
    return connection.execute(
        "select count(*) from raw.payloads where source = ? and parse_status = 'parsed'", [source_id]
    ).fetchone()[0] > 0


def _safe_text(text: str) -> str:
    """Text that can be stored: a lone surrogate (from a bad \\u escape in a payload) becomes its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _sql_value(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _sql_value(value) for key, value in row.items()}
