"""SkyPilot catalog: one ``<cloud>/vms.csv`` per cloud, GPU offers of ~20 clouds.

Columns are read by header name (their order differs per cloud). ``Price`` (on demand) and ``SpotPrice``
become separate observations; a price of 0 means "not offered". GCP lists the host VM and its GPUs in
separate rows: the a2/a3/a4 host rows are joined to the GPU row of the same zone. The bundled history
file (catalog v5, 2022-12..2023-12) carries each row's commit date and cloud.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from pipelines.http import HttpClient
from pipelines.settings import Settings
from pipelines.sources.base import (
    ParsedBatch,
    Payload,
    PreviousFetches,
    Source,
    decimal_or_none,
    gpu_observation,
    parse_each,
    parse_timestamp,
    read_csv_rows,
)

DEFAULT_CLOUDS = (
    "aws", "gcp", "azure", "lambda", "nebius", "verda", "mithril", "hyperbolic", "hyperstack", "jarvislabs",
    "vast", "seeweb", "shadeform", "runpod", "oci", "cudo", "paperspace", "fluidstack", "do", "ibm", "scp",
)

# GCP machine-type families that bundle GPUs, and the SkyPilot accelerator name of their GPU row.
GCP_HOST_GPUS = (
    (re.compile(r"^a2-(highgpu|megagpu)-(\d+)g$"), "A100"),
    (re.compile(r"^a2-ultragpu-(\d+)g$"), "A100-80GB"),
    (re.compile(r"^a3-(highgpu|edgegpu)-(\d+)g$"), "H100"),
    (re.compile(r"^a3-megagpu-(\d+)g$"), "H100-MEGA"),
    (re.compile(r"^a3-ultragpu-(\d+)g$"), "H200"),
    (re.compile(r"^a4-highgpu-(\d+)g$"), "B200"),
)
REQUIRED = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "SpotPrice", "Region")
PRICE_COLUMNS = (("Price", "on_demand"), ("SpotPrice", "spot"))


class SkyPilotSource(Source):
    id = "skypilot"
    kind = "gpu"
    compute_kind = "csv"
    default_url = "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs/v8"
    description = ("GPU instance prices of ~20 clouds from the SkyPilot catalog (v8 `<cloud>/vms.csv`), "
                   "plus the bundled 2022-12..2023-12 catalog history.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        base = self.url(settings)
        for cloud in configured_clouds():
            url = f"{base}/{cloud}/vms.csv"
            response = http.get(self.id, url)
            yield Payload(name=f"{cloud}/vms.csv", content=response.content, mode="live", url=response.url)

    def parse(self, payload: Payload) -> ParsedBatch:
        rows = read_csv_rows(payload, REQUIRED)
        if rows and "commit_date" in rows[0]:
            return parse_history(rows)
        cloud = payload.name.split("/")[0].removeprefix("skypilot_v8_").removesuffix("_vms_gpu.csv")
        return parse_cloud_rows(cloud, rows, observed_at=None)


def configured_clouds() -> tuple[str, ...]:
    """``MARGINS_SKYPILOT_CLOUDS`` (comma-separated) or every cloud the catalog has GPU rows for."""
    configured = os.environ.get("MARGINS_SKYPILOT_CLOUDS", "")
    return tuple(cloud.strip() for cloud in configured.split(",") if cloud.strip()) or DEFAULT_CLOUDS


def parse_history(rows: list[dict[str, str]]) -> ParsedBatch:
    """The bundled history: many (cloud, commit) snapshots in one file, each row dated by its commit."""
    batch = ParsedBatch()
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["cloud"], row["commit_date"]), []).append(row)
    for (cloud, commit_date), group in groups.items():
        part = parse_cloud_rows(cloud, group, observed_at=parse_timestamp(commit_date))
        batch.rows.extend(part.rows)
        batch.rejects.extend(part.rejects)
    return batch


def parse_cloud_rows(cloud: str, rows: list[dict[str, str]], observed_at) -> ParsedBatch:
    batch = ParsedBatch()
    gcp_gpu_rows = {}
    if cloud == "gcp":
        gcp_gpu_rows = {(row.get("AvailabilityZone", ""), row["AcceleratorName"], _count_text(row)): row
                        for row in rows if not row["InstanceType"] and row["AcceleratorName"]}
    def row_offers(row: dict[str, str]) -> list[tuple[dict[str, str], dict[str, Any]]]:
        offers = _gcp_offers(row, gcp_gpu_rows) if cloud == "gcp" else _plain_offers(row)
        return [(row, offer) for offer in offers]

    for offers in parse_each(batch, rows, row_offers, "parseable_number", quarantined=dict):
        batch.rows.extend(_observation(cloud, row, offer, observed_at) for row, offer in offers)
    return batch


def _plain_offers(row: dict[str, str]) -> list[dict[str, Any]]:
    if not row["AcceleratorName"]:
        return []
    count = decimal_or_none(row["AcceleratorCount"])
    return [{"gpu_name": row["AcceleratorName"], "gpu_count": count, "pricing_type": pricing,
             "usd_per_hour": price}
            for pricing, price in _prices(row)]


def _gcp_offers(row: dict[str, str], gpu_rows: dict) -> list[dict[str, Any]]:
    """A GCP host row plus the GPU row of the same zone; GPU-only rows are parts, not offers."""
    gpu_name, count = _gcp_host_gpu(row["InstanceType"])
    if gpu_name is None:
        return []
    gpu_row = gpu_rows.get((row.get("AvailabilityZone", ""), gpu_name, count))
    if gpu_row is None:
        return []
    host_prices = dict(_prices(row, keep_zero=True))
    offers = []
    for pricing, gpu_price in _prices(gpu_row):
        host_price = host_prices.get(pricing)
        if host_price is None:
            continue
        offers.append({"gpu_name": gpu_name, "gpu_count": Decimal(count), "pricing_type": pricing,
                       "usd_per_hour": host_price + gpu_price})
    return offers


def _gcp_host_gpu(instance_type: str) -> tuple[str | None, str]:
    for pattern, gpu_name in GCP_HOST_GPUS:
        match = pattern.match(instance_type)
        if match:
            return gpu_name, match.groups()[-1]
    return None, ""


def _prices(row: dict[str, str], keep_zero: bool = False) -> list[tuple[str, Decimal]]:
    prices = []
    for column, pricing in PRICE_COLUMNS:
        value = decimal_or_none(row.get(column))
        if value is None or (value == 0 and not keep_zero):
            continue
        prices.append((pricing, value))
    return prices


def _count_text(row: dict[str, str]) -> str:
    count = decimal_or_none(row["AcceleratorCount"])
    return "" if count is None else str(int(count)) if count == int(count) else str(count)


def _observation(cloud: str, row: dict[str, str], offer: dict[str, Any], observed_at) -> dict[str, Any]:
    return gpu_observation(
        scope=cloud, provider=cloud, region=row.get("Region"), zone=row.get("AvailabilityZone"),
        instance_type=row["InstanceType"], gpu_name=offer["gpu_name"], gpu_count=offer["gpu_count"],
        pricing_type=offer["pricing_type"], usd_per_hour=offer["usd_per_hour"], observed_at=observed_at)
