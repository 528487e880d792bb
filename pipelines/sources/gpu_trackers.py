"""Bundled 2024-2026 GPU price tracker history (three public GitHub trackers, monthly snapshots).

Only ever bundled: the trackers are third-party repos whose history was captured once (see
seeds/README.md). Rows keep the trackers' own provider and GPU spellings; canonical ids are assigned
in dbt staging. Rows without a GPU count (becloudready) are kept here but never reach the daily marts.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.http import HttpClient
from pipelines.settings import Settings
from pipelines.sources.base import (
    ParsedBatch,
    Payload,
    PreviousFetches,
    Source,
    SourceSkipped,
    decimal_or_none,
    gpu_observation,
    money,
    parse_each,
    parse_timestamp,
    read_csv_rows,
)

REQUIRED = ("snapshot_date", "source_repo", "provider", "region", "instance_type", "gpu_model", "gpu_count",
            "pricing_type", "usd_per_hour", "usd_per_gpu_hour")
PRICING_TYPES = {"on_demand", "spot", "unknown"}


class GpuTrackersSource(Source):
    id = "gpu_trackers"
    kind = "gpu"
    compute_kind = "csv"
    description = ("Bundled monthly GPU rental price history 2024-09..2026-07 from three public trackers "
                   "(becloudready/gpu-price, op-devteam/machine-catalog, cherielilili/gpu-pricing-tracker).")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        raise SourceSkipped("bundled history only: there is no live endpoint")

    def parse(self, payload: Payload) -> ParsedBatch:
        batch = ParsedBatch()
        for observation in parse_each(batch, read_csv_rows(payload, REQUIRED), _observation, "parseable_number",
                                      quarantined=dict):
            if observation["usd_per_hour"] is not None or observation["usd_per_gpu_hour"] is not None:
                batch.rows.append(observation)
        return batch


def _observation(row: dict[str, str]) -> dict:
    pricing = row["pricing_type"].strip()
    if pricing not in PRICING_TYPES:
        raise ValueError(f"unknown pricing_type {pricing!r}")
    return gpu_observation(
        scope=row["source_repo"], observed_at=parse_timestamp(row["snapshot_date"]), provider=row["provider"].strip(),
        region=row["region"], instance_type=row["instance_type"], gpu_name=row["gpu_model"],
        gpu_count=decimal_or_none(row["gpu_count"]), pricing_type=pricing, usd_per_hour=_price(row["usd_per_hour"]),
        usd_per_gpu_hour=_price(row["usd_per_gpu_hour"]))


def _price(text: str):
    """A price of 0 in the trackers means "no price" (e.g. Vast spot rows), not free."""
    value = money(decimal_or_none(text))
    return None if value == 0 else value
