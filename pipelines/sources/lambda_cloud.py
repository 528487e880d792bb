"""Lambda Cloud instance prices (keyed: ``MARGINS_LAMBDA_API_KEY``).

``GET /api/v1/instance-types`` (basic auth, the key as user name). Prices are integer US cents per
instance-hour (``price_cents_per_hour`` / 100), GPUs per instance from ``specs.gpus``. One on-demand row
per instance type and region of ``regions_with_capacity_available``; a type with no capacity right now
(an empty list) is still listed, with region null. ``gpu_name`` is the API's ``gpu_description``
(e.g. ``H100 (80 GB SXM5)``) where the gpu_aliases seed knows it, else the gpu_sku_sizes seed's model of the
instance type; a type neither knows is quarantined as ``unmapped_gpu``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
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
    fetch_stamp,
    gpu_observation,
    json_object,
    parse_gpu_items,
)

ENDPOINT = "/api/v1/instance-types"
CENTS = Decimal(100)


class LambdaSource(Source):
    id = "lambda"
    kind = "gpu"
    compute_kind = "json"
    default_url = "https://cloud.lambda.ai"
    description = ("Lambda Cloud on-demand instance prices (GET /api/v1/instance-types, cents per instance-hour) "
                   "per region with capacity. Needs MARGINS_LAMBDA_API_KEY.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        key = api_key_or_skip(settings, self.id)
        observed_at = datetime.now(UTC)
        token = base64.b64encode(f"{key}:".encode()).decode()
        response = http.get(self.id, self.url(settings) + ENDPOINT, headers={"Authorization": f"Basic {token}"},
                            secrets=(key, token))
        # named per fetch: its row count follows the regions with capacity right now
        yield Payload(name=f"instance-types/{fetch_stamp(observed_at)}.json", content=response.content, mode="live",
                      url=response.url, observed_at=observed_at)

    def parse(self, payload: Payload) -> ParsedBatch:
        types = json_object(payload).get("data")
        if not isinstance(types, dict):
            raise ParseError(f"{payload.name}: no `data` object in the response (schema changed?)")
        return parse_gpu_items(types.items(), lambda pair: instance_rows(*pair), "parseable_instance_type",
                               errors=ITEM_ERRORS, label=lambda pair: pair[0],
                               quarantined=lambda pair: {"instance_type": pair[0], "entry": str(pair[1])[:2000]})


def instance_rows(name: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    instance = entry["instance_type"]
    cents = decimal_or_none(instance["price_cents_per_hour"])
    gpus = decimal_or_none(instance["specs"].get("gpus"))
    if not gpus:
        return []  # CPU-only instance types
    regions = [region["name"] for region in entry.get("regions_with_capacity_available") or []] or [None]
    return [gpu_observation(
        scope="instance_types", provider="lambda", region=region, instance_type=instance.get("name") or name,
        gpu_name=instance.get("gpu_description") or instance.get("name") or name, gpu_count=gpus,
        pricing_type="on_demand", usd_per_hour=None if cents is None else cents / CENTS)
        for region in regions]
