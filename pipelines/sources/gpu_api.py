"""Helpers shared by the GPU price API sources (aws, azure, gcp, lambda, runpod, vast).

One observation row shape (``GPU_COLUMNS``), JSON payload decoding, API keys from the environment, naming a
row's GPU from the reference seeds, and the rule every multi-request source follows: fetch all of a listing
before yielding any of it, so a listing that breaks half-way never lands as a (partial) snapshot.

GPU names: a row is loaded with the source's own GPU spelling when the gpu_aliases seed knows it, else with
the gpu_sku_sizes seed's model of its instance type (the cloud price lists name instance types, not GPUs).
A row neither seed can name is quarantined under rule ``unmapped_gpu`` and listed in
``marts.unmapped_gpu_aliases``: the clouds list many GPUs outside the canonical set (T4, V100, consumer
cards), and the batch suite rejects a batch in which fewer than half the GPU spellings are known.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipelines.settings import API_KEY_VARIABLES, Settings
from pipelines.sources.base import ParsedBatch, ParseError, Payload, Reject, SourceSkipped, money

UNMAPPED_RULE = "unmapped_gpu"


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


def decode_json(content: bytes, name: str) -> Any:
    """JSON with numbers kept exact (Decimal); ParseError names the payload and says when it got HTML."""
    try:
        return json.loads(content, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        hint = " (got an HTML page)" if content.lstrip()[:1] == b"<" else ""
        raise ParseError(f"{name}: invalid JSON{hint}: {exc}") from None


def json_object(payload: Payload) -> dict[str, Any]:
    document = decode_json(payload.read_bytes(), payload.name)
    if not isinstance(document, dict):
        raise ParseError(f"{payload.name}: expected a JSON object, got {type(document).__name__}")
    return document


def api_key_or_skip(settings: Settings, source_id: str) -> str:
    """The source's API key from the environment; a missing key skips the source (never an error)."""
    key = settings.api_key(source_id)
    if key is None:
        raise SourceSkipped(f"{API_KEY_VARIABLES[source_id]} is not set: {source_id} skipped")
    return key


def fetch_stamp(observed_at: datetime) -> str:
    """Part of a payload name that is unique per fetch.

    The batch suite compares a payload's row count with the previous fetch of the same payload name. That fits
    a fixed file (an AWS region, a SkyPilot cloud), not a page of a listing or a capacity-dependent list, whose
    row counts swing by design; such payloads are named per fetch.
    """
    return observed_at.strftime("%Y%m%dT%H%M%S%fZ")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class DownloadedPayload(Payload):
    """A payload streamed to disk, plus where landing will put it.

    Landing moves ``path`` to ``landing/<source>/<sha256>`` before ingest parses the payload it was given,
    so the parser would find ``path`` gone; ``landed_path`` is that destination, known in advance.
    """

    landed_path: Path | None = None


def readable_path(payload: Payload) -> Path:
    """The file holding a file-backed payload's bytes: where it was downloaded, or where it was landed."""
    landed = getattr(payload, "landed_path", None)
    for candidate in (payload.path, landed):
        if candidate is not None and candidate.exists():
            return candidate
    raise ParseError(f"{payload.name}: the payload file is missing ({payload.path})")


@functools.cache
def sku_models() -> dict[tuple[str, str], str]:
    """(provider, instance_type) -> gpu_model from the gpu_sku_sizes seed (the same seed dbt staging applies)."""
    from pipelines.validation import SEEDS_DIR  # imported here: validation imports the sources package

    with open(SEEDS_DIR / "gpu_sku_sizes.csv", newline="", encoding="utf-8") as handle:
        return {(row["provider"], row["instance_type"]): row["gpu_model"] for row in csv.DictReader(handle)}


def known_gpu_name(provider: str, instance_type: str | None, spelling: str | None) -> str | None:
    """The source's spelling if the alias seed knows it, else the SKU seed's model of the instance type."""
    from pipelines.validation import known_gpu_spellings

    if spelling and spelling.strip().lower() in known_gpu_spellings():
        return spelling
    return sku_models().get((provider, instance_type or ""))


def add_named(batch: ParsedBatch, row: dict[str, Any]) -> None:
    """Load the row with a GPU name the seeds know, or quarantine it as unmapped (never guessed)."""
    name = known_gpu_name(row["provider"], row["instance_type"], row["gpu_name"])
    if name is None:
        batch.rejects.append(Reject(UNMAPPED_RULE, f"{row['provider']} {row['instance_type'] or ''}: GPU "
                                    f"{row['gpu_name']!r} is in neither gpu_aliases nor gpu_sku_sizes", row))
    else:
        batch.rows.append({**row, "gpu_name": name})
