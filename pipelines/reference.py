"""The reference seeds as Python reads them (``seeds/reference/``, the same files dbt seeds into ``raw``).

One home for the repository's data paths and every seed lookup the pipeline makes outside dbt: which GPU
spellings the gpu_aliases seed maps, which GPU model the gpu_sku_sizes seed gives an instance type, and the
sources seed. It imports nothing from the pipeline, so any module may use it without an import cycle.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_ROOT / "seeds" / "reference"
SNAPSHOT_DIR = REPO_ROOT / "seeds" / "snapshots"


def read_seed(name: str, folder: Path = SEEDS_DIR) -> list[dict[str, str]]:
    """The rows of ``<folder>/<name>.csv``, keyed by header name."""
    with open(folder / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@functools.cache
def known_gpu_spellings() -> frozenset[str]:
    """Every GPU spelling the gpu_aliases seed maps, and the canonical names themselves (lower case)."""
    rows = read_seed("gpu_aliases")
    return frozenset({row["alias"].strip().lower() for row in rows} | {row["gpu_model"].lower() for row in rows})


@functools.cache
def sku_models() -> dict[tuple[str, str], str]:
    """(provider, instance_type) -> gpu_model from the gpu_sku_sizes seed (the same seed dbt staging applies)."""
    return {(row["provider"], row["instance_type"]): row["gpu_model"] for row in read_seed("gpu_sku_sizes")}


def known_gpu_name(provider: str, instance_type: str | None, spelling: str | None) -> str | None:
    """The source's spelling if the alias seed knows it, else the SKU seed's model of the instance type."""
    if spelling and spelling.strip().lower() in known_gpu_spellings():
        return spelling
    return sku_models().get((provider, instance_type or ""))


@functools.cache
def source_ids() -> tuple[str, ...]:
    """The sources seed's ids, in its order (the order sources are listed and run in)."""
    return tuple(row["source"] for row in read_seed("sources"))
