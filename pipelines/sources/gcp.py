"""GCP GPU prices from the Cloud Billing Catalog API (keyed: ``MARGINS_GCP_API_KEY``).

``GET /v1/services/6F81-5844-456A/skus`` (Compute Engine), paged with ``pageToken`` until
``nextPageToken`` is empty; the key travels in the ``X-Goog-Api-Key`` header, never in a URL. Kept: SKUs
with ``category.resourceGroup`` ``GPU`` and usage type ``OnDemand`` (on_demand) or ``Preemptible`` (spot),
priced per hour; one row per SKU and service region. Committed-use and other usage types are left out.

**Per-GPU prices only.** GCP bills an accelerator-optimized machine (a2/a3/a4) as its GPUs plus the
machine family's vCPU and RAM SKUs (``A3 Instance Core``, ``A3 Instance Ram``). The catalog does not say
how many vCPUs and GiB each machine type has, so the machine price cannot be derived from the documented
catalog shape alone. Rows are therefore the GPU SKU's own price: ``instance_type`` null, ``gpu_count`` 1,
``usd_per_gpu_hour`` = the SKU price. This is the GPU part of a machine's price, not the whole machine
(the host's vCPU and RAM come on top; the skypilot source carries whole-machine GCP prices).

``gpu_name`` is the SKU description without its usage-type words and its ``running in <geo>`` suffix
(``Nvidia H100 80GB GPU``); the gpu_aliases seed maps it, and a spelling it does not know is quarantined as
``unmapped_gpu`` (listed in ``marts.unmapped_gpu_aliases``), never guessed.
"""

from __future__ import annotations

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
    api_key_or_skip,
    decimal_or_none,
    decode_json,
    fetch_stamp,
    gpu_observation,
    item_text,
    json_object,
    parse_date,
    parse_gpu_items,
)

SERVICE = "6F81-5844-456A"
PAGE_SIZE = 5000
MAX_PAGES = 200
USAGE_TYPES = {"OnDemand": "on_demand", "Preemptible": "spot"}
NANOS = Decimal(1_000_000_000)
# usage-type words GCP puts into GPU SKU descriptions; the remaining text names the GPU
_USAGE_WORDS = re.compile(r"^(Spot Preemptible|Preemptible|Spot)\s+|\s+attached to Spot Preemptible VMs|"
                          r"\s+running in .*$", re.IGNORECASE)


class GcpSource(Source):
    id = "gcp"
    kind = "gpu"
    compute_kind = "gcp"
    default_url = "https://cloudbilling.googleapis.com"
    description = ("GCP per-GPU prices (on-demand and spot) of every GPU SKU and region from the Cloud Billing "
                   "Catalog API (Compute Engine SKUs, pageToken paging). Needs MARGINS_GCP_API_KEY.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        key = api_key_or_skip(settings, self.id)
        observed_at = datetime.now(UTC)
        pages = read_catalog(http, self.url(settings), key)
        for number, (url, content) in enumerate(pages, start=1):
            yield Payload(name=f"skus/{fetch_stamp(observed_at)}/page-{number:04d}.json", content=content,
                          mode="live", url=url, observed_at=observed_at)

    def parse(self, payload: Payload) -> ParsedBatch:
        skus = json_object(payload).get("skus")
        if not isinstance(skus, list):
            raise ParseError(f"{payload.name}: no skus list in the response (schema changed?)")
        return parse_gpu_items(skus, sku_rows, "parseable_sku", errors=(*ITEM_ERRORS, IndexError),
                               quarantined=item_text("sku"))


def skus_url(base: str, page_token: str | None) -> str:
    url = f"{base}/v1/services/{SERVICE}/skus?currencyCode=USD&pageSize={PAGE_SIZE}"
    return f"{url}&pageToken={quote(page_token, safe='')}" if page_token else url


def read_catalog(http: HttpClient, base: str, key: str) -> list[tuple[str, bytes]]:
    """Every page of the SKU listing that holds a GPU SKU, as (url, bytes); all pages read before any is used."""
    headers = {"X-Goog-Api-Key": key}
    pages: list[tuple[str, bytes]] = []
    token: str | None = None
    for number in range(1, MAX_PAGES + 1):
        response = http.get("gcp", skus_url(base, token), headers=headers, secrets=(key,))
        page = _decode_page(response.content, number)
        if any(_is_gpu_sku(sku) for sku in page["skus"]):
            pages.append((response.url, response.content))
        token = page.get("nextPageToken") or None
        if token is None and not pages:
            raise FetchError("gcp", f"no GPU SKU in {number} page(s) of the catalog (schema changed?)")
        if token is None:
            return pages
    raise FetchError("gcp", f"paging did not end after {MAX_PAGES} pages")


def _decode_page(content: bytes, number: int) -> dict[str, Any]:
    try:
        page = decode_json(content, f"page {number}")
    except ParseError as exc:
        raise FetchError("gcp", f"cannot follow the SKU listing: {exc}") from None
    if not isinstance(page, dict) or not isinstance(page.get("skus", []), list):
        raise FetchError("gcp", f"cannot follow the SKU listing: page {number} has no skus list")
    page.setdefault("skus", [])
    return page


def _is_gpu_sku(sku: Any) -> bool:
    category = sku.get("category") if isinstance(sku, dict) else None
    return (isinstance(category, dict) and category.get("resourceGroup") == "GPU"
            and category.get("usageType") in USAGE_TYPES)


def gpu_name(description: str) -> str:
    return _USAGE_WORDS.sub("", description).strip()


def sku_rows(sku: Any) -> list[dict[str, Any]]:
    if not _is_gpu_sku(sku):
        return []
    pricing = sku["pricingInfo"][0]
    expression = pricing["pricingExpression"]
    if expression.get("usageUnit") != "h":
        raise ValueError(f"{sku.get('skuId')}: usage unit {expression.get('usageUnit')!r}, not hours")
    price = hourly_price(expression["tieredRates"])
    name = gpu_name(str(sku["description"]))
    return [gpu_observation(
        scope="skus", provider="gcp", region=region, gpu_name=name, gpu_count=Decimal(1),
        pricing_type=USAGE_TYPES[sku["category"]["usageType"]], usd_per_hour=price, usd_per_gpu_hour=price,
        effective_date=parse_date(pricing.get("effectiveTime")))
        for region in sku.get("serviceRegions") or [None]]


def hourly_price(tiered_rates: list[dict[str, Any]]) -> Decimal:
    """The first tier's unit price (units + nanos); GPU SKUs have one tier starting at 0."""
    first = min(tiered_rates, key=lambda rate: decimal_or_none(rate.get("startUsageAmount")) or Decimal(0))
    money = first["unitPrice"]
    if money.get("currencyCode", "USD") != "USD":
        raise ValueError(f"currency {money.get('currencyCode')!r}")
    units = decimal_or_none(money.get("units")) or Decimal(0)
    nanos = decimal_or_none(money.get("nanos")) or Decimal(0)
    return units + nanos / NANOS
