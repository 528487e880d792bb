"""Azure GPU VM prices from the Azure Retail Prices API (no key).

``GET /api/retail/prices?api-version=2023-01-01-preview&meterRegion='primary'&$filter=…`` for the GPU VM
series (ND, NC, NV), consumption prices only, following ``NextPageLink`` until it is empty. A link on the
default host is re-based onto the configured base (``MARGINS_AZURE_URL``), so an override applies to every
page; a link to any other host is refused. Microsoft Q&A #1188465 reports ``NextPageLink`` sometimes
missing: a full page (``Count`` == 100) without one is followed with ``$skip``.

Every page of one listing shares one ``observed_at`` (the fetch start) and scope, and no page is yielded
before the whole listing was read, so a listing that breaks half-way never lands as a partial snapshot.
Windows meters (``productName``) are dropped. Spot and Low Priority come from ``skuName``, or from the
``meterName`` suffix where ``skuName`` is absent; both are preemptible capacity and stored as ``spot``
(the cheaper one wins where a region lists both). The API has no GPU count or GPU model: the
gpu_sku_sizes seed gives both for the size (``armSkuName``, the ``instance_type``); a size the seed lacks is
quarantined as ``unmapped_gpu`` and listed in ``marts.unmapped_gpu_aliases``, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pipelines.http import FetchError, HttpClient, rebase_link
from pipelines.settings import Settings
from pipelines.sources.base import (
    ParsedBatch,
    ParseError,
    Payload,
    PreviousFetches,
    Source,
    decimal_or_none,
    decode_json,
    fetch_stamp,
    gpu_observation,
    json_object,
    parse_date,
    parse_gpu_items,
)

API_VERSION = "2023-01-01-preview"
GPU_SERIES = ("Standard_ND", "Standard_NC", "Standard_NV")
PAGE_SIZE = 100
MAX_PAGES = 1000
PREEMPTIBLE_SUFFIXES = (" Spot", " Low Priority")


class AzureSource(Source):
    id = "azure"
    kind = "gpu"
    compute_kind = "azure"
    default_url = "https://prices.azure.com"
    description = ("Azure GPU VM prices (ND/NC/NV series; Linux on-demand, spot and low priority) from the Azure "
                   "Retail Prices API, every page of the listing following NextPageLink.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        observed_at = datetime.now(UTC)
        pages = read_listing(http, self.url(settings))
        for number, (url, content) in enumerate(pages, start=1):
            yield Payload(name=f"retail_prices/{fetch_stamp(observed_at)}/page-{number:04d}.json", content=content,
                          mode="live", url=url, observed_at=observed_at)

    def parse(self, payload: Payload) -> ParsedBatch:
        return parse_gpu_items(page_items(json_object(payload), payload.name), _observations, "parseable_item",
                               errors=(ValueError, TypeError, AttributeError))


def first_page_url(base: str) -> str:
    series = " or ".join(f"contains(armSkuName, '{prefix}')" for prefix in GPU_SERIES)
    price_filter = f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and ({series})"
    # percent-encoded here, so the URL requested is exactly the one logged and matched in tests
    return (f"{base}/api/retail/prices?api-version={API_VERSION}&meterRegion=%27primary%27"
            f"&$filter={quote(price_filter, safe='')}")


def read_listing(http: HttpClient, base: str) -> list[tuple[str, bytes]]:
    """Every page of the listing as (url, bytes), in order; pages with no usable item are left out."""
    url: str | None = first_page_url(base)
    pages: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    fetched = 0
    while url is not None:
        if url in seen or len(seen) >= MAX_PAGES:
            raise FetchError("azure", f"paging did not end after {len(seen)} page(s) (NextPageLink loops?)")
        seen.add(url)
        response = http.get("azure", url)
        page = _decode_page(response.content, len(seen))
        items = page_items(page, f"page {len(seen)}")
        fetched += len(items)
        if any(_is_kept(item) for item in items):
            pages.append((response.url, response.content))
        url = next_page_url(page, base, fetched, len(items))
    if not pages:
        raise FetchError("azure", f"no Linux consumption price in {fetched} item(s) (filter or schema changed?)")
    return pages


def _decode_page(content: bytes, number: int) -> dict[str, Any]:
    try:
        page = decode_json(content, f"page {number}")
    except ParseError as exc:
        raise FetchError("azure", f"cannot follow the listing: {exc}") from None
    if not isinstance(page, dict) or not isinstance(page.get("Items"), list):
        raise FetchError("azure", f"cannot follow the listing: page {number} has no Items list (schema changed?)")
    return page


def next_page_url(page: dict[str, Any], base: str, fetched: int, page_count: int) -> str | None:
    link = page.get("NextPageLink")
    if link:
        return rebase_link("azure", str(link), base, AzureSource.default_url, what="a NextPageLink")
    count = page.get("Count", page_count)
    if count == PAGE_SIZE and page_count:
        return f"{first_page_url(base)}&$skip={fetched}"
    return None


def page_items(page: dict[str, Any], name: str) -> list[Any]:
    items = page.get("Items")
    if not isinstance(items, list):
        raise ParseError(f"{name}: no Items list in the response (schema changed?)")
    return items


def _is_kept(item: Any) -> bool:
    return (isinstance(item, dict) and item.get("type", "Consumption") == "Consumption"
            and item.get("unitOfMeasure") == "1 Hour" and item.get("currencyCode", "USD") == "USD"
            and "windows" not in str(item.get("productName", "")).lower())


def pricing_type(item: dict[str, Any]) -> str:
    """spot for Spot and Low Priority meters (skuName, else the meterName suffix), else on_demand."""
    label = item.get("skuName") or item.get("meterName") or ""
    return "spot" if str(label).endswith(PREEMPTIBLE_SUFFIXES) else "on_demand"


def _observations(item: Any) -> list[dict[str, Any]]:
    if not _is_kept(item):
        return []
    size = item["armSkuName"]
    if not isinstance(size, str) or not size:
        raise ValueError(f"armSkuName {size!r}")
    return [gpu_observation(
        scope="retail_prices", provider="azure", region=item.get("armRegionName"), instance_type=size,
        gpu_name=size, gpu_count=None, pricing_type=pricing_type(item),
        usd_per_hour=decimal_or_none(item.get("retailPrice")),
        effective_date=parse_date(item.get("effectiveStartDate")))]
