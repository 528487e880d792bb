"""The one small interface every source implements: fetch bytes -> (landed) -> parse to observation rows.

A source yields ``Payload`` objects (the bytes exactly as served, plus when they were observed), and
turns one payload into a ``ParsedBatch`` of observation rows shaped like ``raw.gpu_observations`` or
``raw.token_observations``. Landing, validation and loading are the same for every source and live in
``pipelines.ingest``; a source only knows its own host and format.
"""

from __future__ import annotations

import csv
import gzip
import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pipelines.http import HttpClient
from pipelines.settings import Settings

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "seeds" / "snapshots"
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
        if _file_sha256(self.landing_dir / sha256) != sha256:
            return None  # the landed copy was damaged: download it again (landing replaces the file)
        return Payload(name=name, content=b"", mode="live", url=url, observed_at=observed_at,
                       path=self.landing_dir / sha256, sha256=sha256)


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    id: str
    kind: str                        # "gpu" or "token"
    description: str
    compute_kind: str = "python"     # shown as a Dagster kind beside python/duckdb
    api_key_name: str | None = None  # a keyed source is skipped when its key is not set

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
