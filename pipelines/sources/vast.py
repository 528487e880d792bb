"""Vast.ai marketplace GPU prices (keyed: ``MARGINS_VAST_API_KEY``).

``GET /api/v0/bundles/?q={"rentable":{"eq":true},"type":"on-demand","gpu_name":{"eq":<name>},"limit":500}``
once per GPU name (``MARGINS_VAST_GPU_NAMES`` or a default list of data-centre GPUs), the key as a Bearer
token. A marketplace lists hundreds of individual offers that come and go, so the rows are not offers but
per-snapshot statistics of ``dph_total`` (USD per hour of the whole offer) per Vast GPU name, GPU model and
GPU count: ``min``, ``p25`` (linear interpolation) and ``median``, told apart by ``instance_type``
(``H100 SXM (min of offers)``, ``… (p25 of offers)``, ``… (median of offers)``). All queries of one fetch
share one snapshot (read before any is used, so a fetch that breaks half-way lands nothing). The query asks
for on-demand offers: ``on_demand``.

Vast names both A100 memory sizes ``A100 SXM4`` / ``A100 PCIE`` (api_samples README; ``gpu_ram`` 39936 /
40960 vs 81920 MiB), so A100 offers are named ``A100-40GB`` / ``A100-80GB`` by ``gpu_ram``; an A100 of any
other size keeps Vast's name and is quarantined as ``unmapped_gpu``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pipelines.http import FetchError, HttpClient
from pipelines.settings import Settings
from pipelines.sources.base import (
    ITEM_ERRORS,
    ParsedBatch,
    ParseError,
    Payload,
    PreviousFetches,
    Source,
    add_named,
    api_key_or_skip,
    decimal_or_none,
    decode_json,
    fetch_stamp,
    gpu_observation,
    item_text,
    json_object,
    parse_each,
)

ENDPOINT = "/api/v0/bundles/"
DEFAULT_GPU_NAMES = ("B200", "H200", "H100 SXM", "H100 NVL", "H100 PCIE", "A100 SXM4", "A100 PCIE", "L40S")
OFFER_LIMIT = 500
# gpu_ram (MiB) ranges of the two A100 memory sizes seen in Vast offers (39936/40960 and 81920)
A100_SIZES = ((38_000, 42_000, "A100-40GB"), (79_000, 83_000, "A100-80GB"))


class VastSource(Source):
    id = "vast"
    kind = "gpu"
    compute_kind = "json"
    default_url = "https://console.vast.ai"
    description = ("Vast.ai marketplace: per snapshot, min / p25 / median on-demand price per GPU model and GPU "
                   "count over the rentable offers (GET /api/v0/bundles/). Needs MARGINS_VAST_API_KEY.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        key = api_key_or_skip(settings, self.id)
        observed_at = datetime.now(UTC)
        headers = {"Authorization": f"Bearer {key}"}
        responses = [(name, http.get(self.id, offers_url(self.url(settings), name), headers=headers,
                                     secrets=(key,))) for name in configured_gpu_names()]
        if not any(_has_offers(response.content) for _, response in responses):
            raise FetchError(self.id, f"no offer for any of {len(responses)} GPU name(s) (query changed?)")
        for name, response in responses:
            if _has_offers(response.content):
                yield Payload(name=f"bundles/{fetch_stamp(observed_at)}/{_slug(name)}.json",
                              content=response.content, mode="live", url=response.url, observed_at=observed_at)

    def parse(self, payload: Payload) -> ParsedBatch:
        offers = json_object(payload).get("offers")
        if not isinstance(offers, list):
            raise ParseError(f"{payload.name}: no offers list in the response (schema changed?)")
        batch = ParsedBatch()
        groups: dict[tuple[str, str, Decimal], list[Decimal]] = {}
        for key, price in parse_each(batch, offers, _offer, "parseable_offer",
                                     errors=ITEM_ERRORS,
                                     quarantined=item_text("offer")):
            groups.setdefault(key, []).append(price)
        for (vast_name, name, count), prices in sorted(groups.items()):
            for row in statistic_rows(vast_name, name, count, prices):
                add_named(batch, row)
        return batch


def configured_gpu_names() -> tuple[str, ...]:
    configured = os.environ.get("MARGINS_VAST_GPU_NAMES", "")
    return tuple(name.strip() for name in configured.split(",") if name.strip()) or DEFAULT_GPU_NAMES


def offers_url(base: str, gpu_name: str) -> str:
    query = {"rentable": {"eq": True}, "type": "on-demand", "gpu_name": {"eq": gpu_name}, "limit": OFFER_LIMIT}
    return f"{base}{ENDPOINT}?q={quote(json.dumps(query, separators=(',', ':')), safe='')}"


def _has_offers(content: bytes) -> bool:
    """An empty answer (no offer of that GPU right now) lands nothing; anything else is parsed and checked."""
    try:
        document = decode_json(content, "offers")
    except ParseError:
        return True
    return not (isinstance(document, dict) and document.get("offers") == [])


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def gpu_name(offer: dict[str, Any]) -> str:
    name = str(offer["gpu_name"]).strip()
    if not name.upper().startswith("A100"):
        return name
    memory = decimal_or_none(offer.get("gpu_ram"))
    for low, high, canonical in A100_SIZES:
        if memory is not None and low <= memory <= high:
            return canonical
    return name


def _offer(offer: dict[str, Any]) -> tuple[tuple[str, str, Decimal], Decimal]:
    count = decimal_or_none(offer["num_gpus"])
    price = decimal_or_none(offer["dph_total"])
    if not count or price is None:
        raise ValueError(f"offer without num_gpus or dph_total: {offer.get('id')}")
    return (str(offer["gpu_name"]).strip(), gpu_name(offer), count), price


def statistic_rows(vast_name: str, name: str, count: Decimal, prices: list[Decimal]) -> list[dict[str, Any]]:
    ordered = sorted(prices)
    statistics = (("min", ordered[0]), ("p25", quantile(ordered, Decimal("0.25"))),
                  ("median", quantile(ordered, Decimal("0.5"))))
    return [gpu_observation(scope="bundles", provider="vast", instance_type=f"{vast_name} ({label} of offers)",
                            gpu_name=name,
                            gpu_count=count, pricing_type="on_demand", usd_per_hour=value)
            for label, value in statistics]


def quantile(ordered: list[Decimal], fraction: Decimal) -> Decimal:
    """Linear interpolation between the closest ranks (numpy's default), on exact decimals."""
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
