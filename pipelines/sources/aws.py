"""AWS EC2 on-demand GPU instance prices from the AWS Price List bulk API (no key).

``/offers/v1.0/aws/AmazonEC2/current/region_index.json`` names each region's current offer file; the CSV
form of that file (5 metadata lines, then a header; hundreds of MB) is streamed to disk and filtered with
DuckDB, never loaded whole into memory. A region whose ``currentVersionUrl`` was already landed is not
downloaded again: the landed file is fetched from the landing area, which confirms its prices.

Kept: on-demand terms priced per hour in USD for Linux, Shared tenancy, no pre-installed software (the
literal string ``NA``), capacity status ``Used``, in a GPU instance family, with a GPU count. ``observed_at``
is the offer file's publication date, ``effective_date`` its ``EffectiveDate``. The price list has no spot
prices and names no GPU model: the gpu_sku_sizes seed names the GPU of an instance type, and an instance type
it does not know is quarantined as ``unmapped_gpu`` (listed in ``marts.unmapped_gpu_aliases``), never guessed.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from pipelines.http import FetchError, HttpClient
from pipelines.settings import Settings
from pipelines.sources.base import (
    ParsedBatch,
    ParseError,
    Payload,
    PreviousFetches,
    Source,
    decimal_or_none,
    decode_json,
    gpu_observation,
    parse_date,
    parse_gpu_items,
    parse_timestamp,
)

INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"
DEFAULT_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
METADATA_LINES = 5
MAX_OFFER_BYTES = 16 * 1024**3  # us-east-1's offer file is several GB (the JSON form more still)
GPU_FAMILIES = ("GPU instance", "Accelerated Computing")
REQUIRED_COLUMNS = (
    "TermType", "EffectiveDate", "Unit", "PricePerUnit", "Currency", "Instance Type", "Instance Family", "GPU",
    "Tenancy", "Operating System", "CapacityStatus", "Pre Installed S/W", "Region Code",
)
OFFER_QUERY = """
select "Instance Type", "Region Code", "GPU", "PricePerUnit", "EffectiveDate"
from {source}
where "TermType" = 'OnDemand' and "Unit" = 'Hrs' and "Currency" = 'USD'
  and "Tenancy" = 'Shared' and "Operating System" = 'Linux' and "CapacityStatus" = 'Used'
  and "Pre Installed S/W" = 'NA'
  and ("Instance Family" in {families} or try_cast("GPU" as double) > 0)
order by all
"""


class AwsSource(Source):
    id = "aws"
    kind = "gpu"
    compute_kind = "aws"
    default_url = "https://pricing.us-east-1.amazonaws.com"
    description = ("AWS EC2 on-demand GPU instance prices (Linux, shared tenancy) from the AWS Price List bulk API: "
                   "region_index.json, then each configured region's offer CSV, streamed and filtered with DuckDB.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        base = self.url(settings)
        regions = region_index(http, base)
        missing = []
        for region in configured_regions():
            version_url = regions.get(region)
            if version_url is None:
                missing.append(region)
                continue
            yield self._offer_payload(settings, http, previous, region, base + offer_csv_path(version_url))
        if missing:
            raise FetchError(self.id, f"region(s) not in region_index.json: {', '.join(missing)}")

    def _offer_payload(self, settings: Settings, http: HttpClient, previous: PreviousFetches, region: str,
                       url: str) -> Payload:
        name = f"{region}/index.csv"
        landed = previous.unchanged(name, url)
        if landed is not None:
            return replace(landed, observed_at=publication_date(landed.path))
        response = http.download(self.id, url, settings.download_dir(self.id), max_bytes=MAX_OFFER_BYTES)
        return Payload(name=name, content=b"", mode="live", url=url, observed_at=publication_date(response.path),
                       path=response.path)

    def parse(self, payload: Payload) -> ParsedBatch:
        path = payload.local_file()
        observed_at = publication_date(path, strict=True)
        region = payload.name.split("/")[0]
        return parse_gpu_items(offer_rows(path, payload.name),
                               lambda record: _observations(record, region, observed_at), "parseable_number",
                               quarantined=dict)


def configured_regions() -> tuple[str, ...]:
    """``MARGINS_AWS_REGIONS`` (comma-separated) or the regions where AWS sells most GPU capacity."""
    configured = os.environ.get("MARGINS_AWS_REGIONS", "")
    return tuple(region.strip() for region in configured.split(",") if region.strip()) or DEFAULT_REGIONS


def region_index(http: HttpClient, base: str) -> dict[str, str]:
    """regionCode -> currentVersionUrl from region_index.json."""
    response = http.get("aws", base + INDEX_PATH)
    try:
        document = decode_json(response.content, "region_index.json")
        return {code: entry["currentVersionUrl"] for code, entry in document["regions"].items()}
    except (ParseError, KeyError, TypeError, AttributeError) as exc:
        raise FetchError("aws", f"region_index.json is not a region index ({exc})") from None


def offer_csv_path(current_version_url: str) -> str:
    """The CSV form of a region's offer file (the index points at the JSON form)."""
    if not current_version_url.startswith("/"):
        raise FetchError("aws", f"unexpected currentVersionUrl {current_version_url[:80]!r}")
    return current_version_url.removesuffix(".json") + ".csv"


def publication_date(path: Path | None, strict: bool = False) -> datetime | None:
    """The offer file's ``Publication Date`` metadata line; ParseError (strict) or None if it has none."""
    metadata = _metadata(path) if path is not None else {}
    try:
        observed_at = parse_timestamp(metadata.get("Publication Date"))
    except ValueError:
        observed_at = None
    if observed_at is None and strict:
        raise ParseError(f"{path}: no Publication Date in the offer file's metadata lines (not an offer CSV?)")
    return observed_at


def _metadata(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        lines = [handle.readline() for _ in range(METADATA_LINES)]
    return {fields[0].strip(): fields[1].strip() for fields in csv.reader(lines) if len(fields) >= 2}


def offer_rows(path: Path, name: str) -> list[dict[str, str]]:
    """The plain Linux on-demand rows of GPU instance families, read by DuckDB straight from the file."""
    literal = str(path).replace("'", "''")
    families = "(" + ", ".join(f"'{family}'" for family in GPU_FAMILIES) + ")"
    # all_varchar keeps AWS's literal 'NA' (a NaN in pandas' default reading) and every price as its text
    source = (f"read_csv('{literal}', skip = {METADATA_LINES}, header = true, all_varchar = true, "
              "delim = ',', quote = '\"', escape = '\"')")
    try:
        with duckdb.connect() as connection:
            connection.execute("set preserve_insertion_order = false")
            header = [column[0] for column in connection.execute(f"select * from {source} limit 0").description]
            missing = [column for column in REQUIRED_COLUMNS if column not in header]
            if missing:
                raise ParseError(f"{name}: missing column(s) {', '.join(missing)} (header: {header[:12]})")
            cursor = connection.execute(OFFER_QUERY.format(source=source, families=families))
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    except duckdb.Error as exc:
        raise ParseError(f"{name}: not a readable offer CSV ({str(exc).splitlines()[0][:200]})") from None


def _observations(record: dict[str, Any], region: str, observed_at: datetime) -> list[dict[str, Any]]:
    gpu_count = decimal_or_none(record["GPU"]) if _is_number(record["GPU"]) else None
    if not gpu_count or gpu_count <= 0:
        return []
    price = decimal_or_none(record["PricePerUnit"])
    return [gpu_observation(
        scope=region, provider="aws", region=record["Region Code"] or region,
        instance_type=record["Instance Type"], gpu_name=record["Instance Type"], gpu_count=gpu_count,
        pricing_type="on_demand", usd_per_hour=price, observed_at=observed_at,
        effective_date=parse_date(record["EffectiveDate"]))]


def _is_number(text: str | None) -> bool:
    try:
        return text is not None and Decimal(text.strip()).is_finite()
    except ArithmeticError:
        return False
