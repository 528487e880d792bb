"""RunPod GPU prices from its GraphQL API (keyed: ``MARGINS_RUNPOD_API_KEY``).

``POST /graphql`` with ``gpuTypes { id displayName memoryInGb securePrice communityPrice secureSpotPrice
communitySpotPrice }`` (the key as a Bearer token, never in the URL). Prices are USD per GPU-hour, so each
row is one GPU. Secure cloud and community cloud are separate offers (``region`` ``secure`` /
``community``): ``securePrice``/``communityPrice`` are on-demand, the ``*SpotPrice`` fields spot. A price
of 0 means "not offered" (api_samples README) and gives no row; any other value goes through the normal
validation. ``instance_type`` is RunPod's GPU type id, ``gpu_name`` its display name; GPUs the gpu_aliases seed
leaves out on purpose (consumer and workstation cards, MIG slices) are quarantined as ``unmapped_gpu``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from pipelines.http import HttpClient
from pipelines.settings import Settings
from pipelines.sources.base import (
    ITEM_ERRORS,
    ParsedBatch,
    ParseError,
    Payload,
    PreviousFetches,
    Source,
    api_key_or_skip,
    decimal_or_none,
    gpu_observation,
    item_text,
    json_object,
    parse_gpu_items,
)

ENDPOINT = "/graphql"
QUERY = ("query GpuTypes { gpuTypes { id displayName memoryInGb securePrice communityPrice secureSpotPrice "
         "communitySpotPrice } }")
PRICE_FIELDS = (
    ("securePrice", "secure", "on_demand"),
    ("communityPrice", "community", "on_demand"),
    ("secureSpotPrice", "secure", "spot"),
    ("communitySpotPrice", "community", "spot"),
)


class RunPodSource(Source):
    id = "runpod"
    kind = "gpu"
    compute_kind = "graphql"
    default_url = "https://api.runpod.io"
    description = ("RunPod per-GPU prices (secure and community cloud, on-demand and spot) from the GraphQL "
                   "gpuTypes query. Needs MARGINS_RUNPOD_API_KEY.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        key = api_key_or_skip(settings, self.id)
        response = http.post(self.id, self.url(settings) + ENDPOINT, json={"query": QUERY},
                             headers={"Authorization": f"Bearer {key}"}, secrets=(key,))
        yield Payload(name="gpuTypes.json", content=response.content, mode="live", url=response.url)

    def parse(self, payload: Payload) -> ParsedBatch:
        document = json_object(payload)
        data = document.get("data")
        gpu_types = data.get("gpuTypes") if isinstance(data, dict) else None
        if not isinstance(gpu_types, list):
            errors = str(document.get("errors"))[:300] if document.get("errors") else "schema changed?"
            raise ParseError(f"{payload.name}: no data.gpuTypes list in the response ({errors})")
        return parse_gpu_items(gpu_types, gpu_type_rows, "parseable_gpu_type", errors=ITEM_ERRORS,
                               quarantined=item_text("gpu_type"))


def gpu_type_rows(gpu_type: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for field, cloud, pricing in PRICE_FIELDS:
        price = decimal_or_none(gpu_type.get(field))
        if price is None or price == 0:
            continue
        rows.append(gpu_observation(
            scope="gpu_types", provider="runpod", region=cloud, instance_type=gpu_type["id"],
            gpu_name=gpu_type.get("displayName") or gpu_type["id"], gpu_count=Decimal(1), pricing_type=pricing,
            usd_per_hour=price, usd_per_gpu_hour=price, gpu_memory_gb=_memory_gb(gpu_type.get("memoryInGb"))))
    return rows


def _memory_gb(value: Any) -> float | None:
    number = decimal_or_none(value)
    return float(number) if number else None
