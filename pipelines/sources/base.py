"""The one small interface every source implements: fetch bytes -> (landed) -> parse to observation rows.

A source yields ``Payload`` objects (the bytes exactly as served, plus when they were observed), and
turns one payload into a ``ParsedBatch`` of observation rows shaped like ``raw.gpu_observations`` or
``raw.token_observations``. Landing, validation and loading are the same for every source and live in
``pipelines.ingest``; a source only knows its own host and format.

The helpers every source shares live here too: JSON and CSV decoding that names the payload (and says when it
got an HTML page), the per-item parse loop (``parse_each``: an item that cannot be read is quarantined, the rest of
the payload goes on), the one GPU observation row (``gpu_observation``), naming a row's GPU from the reference
seeds (``add_named``), API keys from the environment, and per-fetch payload names.

GPU names: a row is loaded with the source's own GPU spelling when the gpu_aliases seed knows it, else with
the gpu_sku_sizes seed's model of its instance type (the cloud price lists name instance types, not GPUs).
A row neither seed can name is quarantined under rule ``unmapped_gpu`` and listed in
``marts.unmapped_gpu_aliases``: the clouds list many GPUs outside the canonical set (T4, V100, consumer
cards), and the batch suite rejects a batch in which fewer than half the GPU spellings are known.

A multi-request source fetches all of a listing before yielding any of it, so a listing that breaks half-way
never lands as a (partial) snapshot. A large payload is streamed to disk (``Payload.path``); landing moves that
file, and ingest hands the parser the landed file (``Payload.local_file``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from pipelines.http import HttpClient
from pipelines.landing import file_sha256
from pipelines.reference import SNAPSHOT_DIR, known_gpu_name
from pipelines.settings import Settings, api_key_variable

Item = TypeVar("Item")
Parsed = TypeVar("Parsed")

UNMAPPED_RULE = "unmapped_gpu"
# what reading a malformed item of a JSON listing raises (a missing key, a list where an object was expected, junk)
ITEM_ERRORS: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError, AttributeError)
MONEY_PLACES = Decimal("0.000001")
PER_MILLION = Decimal(1_000_000)

GPU_COLUMNS = (
    "scope", "observed_at", "provider", "region", "zone", "instance_type", "gpu_name", "gpu_memory_gb",
    "gpu_count", "pricing_type", "usd_per_hour", "usd_per_gpu_hour", "effective_date",
)
TOKEN_COLUMNS = (
    "scope", "observed_at", "provider", "source_model_key", "mode", "usd_per_1m_input", "usd_per_1m_output",
    "usd_per_1m_cached_input", "usd_per_1m_cache_write", "usd_per_1m_batch_input", "usd_per_1m_batch_output",
    "long_context_threshold_tokens", "usd_per_1m_input_long_context", "usd_per_1m_output_long_context",
    "max_input_tokens", "deprecation_date", "is_free", "has_variable_price",
)
COLUMNS_BY_KIND = {"gpu": GPU_COLUMNS, "token": TOKEN_COLUMNS}


class ParseError(Exception):
    """The payload as a whole cannot be parsed (wrong format, schema changed): the batch is rejected."""


class SourceSkipped(Exception):
    """The source cannot run here and that is not an error (e.g. its API key is not set)."""


@dataclass(frozen=True)
class Payload:
    name: str                       # logical name within the source, e.g. "aws/vms.csv"
    content: bytes                  # the bytes as served (empty when ``path`` holds them)
    mode: str                       # live | bundled | backfill
    url: str | None = None          # never contains a key
    observed_at: datetime | None = None
    is_date_estimated: bool = False
    path: Path | None = None        # a large payload streamed to disk (HttpClient.download) or already landed
    sha256: str | None = None       # set when the payload is a file this source landed before

    def read_bytes(self) -> bytes:
        return self.path.read_bytes() if self.path is not None else self.content

    def local_file(self) -> Path:
        """The file holding a file-backed payload's bytes. Landing moves a download into the landing area, and
        ingest hands the parser the payload with ``path`` set to the landed file."""
        if self.path is None or not self.path.exists():
            raise ParseError(f"{self.name}: the payload file is missing ({self.path})")
        return self.path


@dataclass(frozen=True)
class PreviousFetches:
    """What a source landed before: the payload of its newest successful live fetch of each URL.

    Lets a source skip downloading a URL that is known not to have changed (e.g. an AWS offer file whose
    versioned URL is the one landed last time) while still confirming its prices with a new fetch.
    """

    landing_dir: Path
    sha256_by_url: dict[str, str] = field(default_factory=dict)

    def unchanged(self, name: str, url: str, observed_at: datetime | None = None) -> Payload | None:
        sha256 = self.sha256_by_url.get(url)
        if sha256 is None or not (self.landing_dir / sha256).exists():
            return None
        if file_sha256(self.landing_dir / sha256) != sha256:
            return None  # the landed copy was damaged: download it again (landing replaces the file)
        return Payload(name=name, content=b"", mode="live", url=url, observed_at=observed_at,
                       path=self.landing_dir / sha256, sha256=sha256)


@dataclass(frozen=True)
class Reject:
    rule: str
    reason: str
    row: dict[str, Any]


@dataclass
class ParsedBatch:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


class Source(ABC):
    """A source: one subclass in one module of this package, with a row in ``seeds/reference/sources.csv``
    (``pipelines.sources`` finds it there; no list to edit). Its base URL is ``default_url``, overridden by
    ``MARGINS_<ID>_URL``; a keyed source reads ``MARGINS_<ID>_API_KEY`` (``api_key_or_skip``)."""

    id: str
    kind: str                        # "gpu" or "token", as in the sources seed
    description: str
    compute_kind: str = "python"     # shown as a Dagster kind beside python/duckdb
    default_url: str | None = None   # the live base URL (None: a bundled-only source)

    def url(self, settings: Settings) -> str:
        """The base URL to fetch from: ``MARGINS_<ID>_URL`` when set, else ``default_url``."""
        return settings.url(self.id, self.default_url)

    @abstractmethod
    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        """Yield live payloads; raise FetchError / SourceSkipped."""

    @abstractmethod
    def parse(self, payload: Payload) -> ParsedBatch:
        """Turn one payload into observation rows; raise ParseError to reject it whole."""

    def bundled(self) -> Iterator[Payload]:
        """The real payloads shipped in seeds/snapshots/<id>/ (see seeds/README.md)."""
        for entry in bundled_manifest():
            if entry["source"] != self.id:
                continue
            path = SNAPSHOT_DIR / entry["file"]
            content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            yield Payload(
                name=entry["payload_name"], content=content, mode="bundled", url=entry["origin"],
                observed_at=parse_timestamp(entry["observed_at"]),
                is_date_estimated=entry["is_date_estimated"].lower() == "true",
            )


def bundled_manifest() -> list[dict[str, str]]:
    with open(SNAPSHOT_DIR / "manifest.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def parse_timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def parse_date(text: Any) -> date | None:
    if not text or not isinstance(text, str):
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def decimal_or_none(value: Any) -> Decimal | None:
    """A number from its text (so 2.5e-06 stays exact); None for blanks. Raises ValueError on junk."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text == "":
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text[:40]!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {text[:40]!r}")
    return number


def money(value: Decimal | None) -> Decimal | None:
    """Rounded to 6 places; ValueError (a row-level reject) for a number too large to hold, e.g. 1e308."""
    if value is None:
        return None
    try:
        return value.quantize(MONEY_PLACES)
    except InvalidOperation:
        raise ValueError(f"number out of range: {value:.3e}") from None


def per_million(per_token: Decimal | None) -> Decimal | None:
    return None if per_token is None else money(per_token * PER_MILLION)


def read_csv_rows(payload: Payload, required: tuple[str, ...]) -> list[dict[str, str]]:
    """CSV rows keyed by header name; ParseError if the payload is not text CSV with the required columns."""
    try:
        text = payload.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParseError(f"{payload.name}: not UTF-8 text") from None
    if text.lstrip()[:1] == "<":
        raise ParseError(f"{payload.name}: got an HTML/XML page, not CSV")
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [column for column in required if column not in header]
    if missing:
        raise ParseError(f"{payload.name}: missing column(s) {', '.join(missing)} (header: {header[:12]})")
    try:
        return list(reader)
    except csv.Error as exc:
        raise ParseError(f"{payload.name}: malformed CSV ({exc})") from None


def decode_json(content: bytes, name: str, **options: Any) -> Any:
    """JSON with numbers kept exact (Decimal); ParseError names the payload and says when it got HTML.

    ``options`` go to ``json.loads`` (e.g. an ``object_pairs_hook``)."""
    try:
        return json.loads(content, parse_float=Decimal, **options)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        hint = " (got an HTML page)" if content.lstrip()[:1] == b"<" else ""
        raise ParseError(f"{name}: invalid JSON{hint}: {exc}") from None


def json_object(payload: Payload, **options: Any) -> dict[str, Any]:
    """The payload's top-level JSON object; ParseError for anything else."""
    document = decode_json(payload.read_bytes(), payload.name, **options)
    if not isinstance(document, dict):
        raise ParseError(f"{payload.name}: expected a JSON object, got {type(document).__name__}")
    return document


def parse_each(batch: ParsedBatch, items: Iterable[Item], parse: Callable[[Item], Parsed], rule: str, *,
               errors: tuple[type[BaseException], ...] = (ValueError,),
               quarantined: Callable[[Item], dict[str, Any]] | None = None,
               label: Callable[[Item], str] | None = None) -> Iterator[Parsed]:
    """``parse`` of each item, one at a time: an item whose parse raises one of ``errors`` is quarantined in
    ``batch`` under ``rule`` (``label(item): error`` as the reason, ``quarantined(item)`` as the row, by default
    the item's text cut to 2,000 characters) and the rest of the payload goes on."""
    for item in items:
        try:
            result = parse(item)
        except errors as exc:
            reason = f"{label(item)}: {exc}" if label else str(exc)
            row = quarantined(item) if quarantined else {"item": str(item)[:2000]}
            batch.rejects.append(Reject(rule, reason, row))
            continue
        yield result


def parse_gpu_items(items: Iterable[Item], rows_of: Callable[[Item], Iterable[dict[str, Any]]], rule: str,
                    **options: Any) -> ParsedBatch:
    """``parse_each`` for a GPU listing: every row of every item that parses, under a GPU name the seeds know
    (``add_named``); ``options`` as for ``parse_each``."""
    batch = ParsedBatch()
    for rows in parse_each(batch, items, rows_of, rule, **options):
        for row in rows:
            add_named(batch, row)
    return batch


def item_text(name: str) -> Callable[[Any], dict[str, Any]]:
    """A quarantined row holding an item's text under ``name`` (cut to 2,000 characters)."""
    return lambda item: {name: str(item)[:2000]}


def gpu_observation(*, scope: str, provider: str, gpu_name: str | None, pricing_type: str,
                    usd_per_hour: Decimal | None = None, usd_per_gpu_hour: Decimal | None = None,
                    gpu_count: Decimal | None = None, region: str | None = None, zone: str | None = None,
                    instance_type: str | None = None, observed_at: datetime | None = None,
                    effective_date: date | None = None, gpu_memory_gb: float | None = None) -> dict[str, Any]:
    """A row shaped like raw.gpu_observations; the per-GPU price is derived when only the instance's is known."""
    per_hour = money(usd_per_hour)
    per_gpu_hour = money(usd_per_gpu_hour)
    if per_gpu_hour is None and per_hour is not None and gpu_count:
        per_gpu_hour = money(per_hour / gpu_count)
    return {
        "scope": scope,
        "observed_at": observed_at,
        "provider": provider,
        "region": region or None,
        "zone": zone or None,
        "instance_type": instance_type or None,
        "gpu_name": gpu_name or None,
        "gpu_memory_gb": gpu_memory_gb,
        "gpu_count": gpu_count,
        "pricing_type": pricing_type,
        "usd_per_hour": per_hour,
        "usd_per_gpu_hour": per_gpu_hour,
        "effective_date": effective_date,
    }


def add_named(batch: ParsedBatch, row: dict[str, Any]) -> None:
    """Load the row with a GPU name the seeds know, or quarantine it as unmapped (never guessed)."""
    name = known_gpu_name(row["provider"], row["instance_type"], row["gpu_name"])
    if name is None:
        batch.rejects.append(Reject(UNMAPPED_RULE, f"{row['provider']} {row['instance_type'] or ''}: GPU "
                                    f"{row['gpu_name']!r} is in neither gpu_aliases nor gpu_sku_sizes", row))
    else:
        batch.rows.append({**row, "gpu_name": name})


def api_key_or_skip(settings: Settings, source_id: str) -> str:
    """The source's API key from the environment; a missing key skips the source (never an error)."""
    key = settings.api_key(source_id)
    if key is None:
        raise SourceSkipped(f"{api_key_variable(source_id)} is not set: {source_id} skipped")
    return key


def fetch_stamp(observed_at: datetime) -> str:
    """Part of a payload name that is unique per fetch.

    The batch suite compares a payload's row count with the previous fetch of the same payload name. That fits
    a fixed file (an AWS region, a SkyPilot cloud), not a page of a listing or a capacity-dependent list, whose
    row counts swing by design; such payloads are named per fetch.
    """
    return observed_at.strftime("%Y%m%dT%H%M%S%fZ")
