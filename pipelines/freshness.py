"""Upstream freshness: when a source's upstream content last changed, and whether that is too long ago.

A fetch can succeed every day while the content it returns has not moved for months (an updater that stopped).
The change logs (``raw.gpu_observations`` / ``raw.token_observations``) hold a row only where a snapshot's parsed
rows differ from the previous one, so their newest ``observed_at`` is when the upstream content last changed.
The threshold per source is ``upstream_stale_after_days`` in ``seeds/reference/sources.csv``; dbt computes the
same in ``marts.source_status`` (``upstream_changed_at``, ``is_upstream_stale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import duckdb

from pipelines.reference import SEEDS_DIR, read_seed

SOURCES_SEED = SEEDS_DIR / "sources.csv"


@dataclass(frozen=True)
class UpstreamFreshness:
    source: str
    changed_at: datetime | None
    stale_after_days: int
    checked_at: datetime

    @property
    def age_days(self) -> float | None:
        if self.changed_at is None:
            return None
        return (self.checked_at - self.changed_at) / timedelta(days=1)

    @property
    def is_stale(self) -> bool:
        """Unchanged for longer than the threshold; a source with nothing landed is not (it is just stale)."""
        age = self.age_days
        return age is not None and age > self.stale_after_days

    def describe(self) -> str:
        if self.changed_at is None:
            return f"{self.source}: no upstream content landed yet"
        state = "stale" if self.is_stale else "fresh"
        return (f"{self.source}: upstream content last changed {self.changed_at:%Y-%m-%d %H:%M} UTC "
                f"({self.age_days:.1f} days ago; {state} after {self.stale_after_days} days)")


@cache
def stale_after_days() -> dict[str, int]:
    """Per source id, its upstream_stale_after_days from the sources seed."""
    thresholds = {}
    for row in read_seed("sources"):
        value = (row.get("upstream_stale_after_days") or "").strip()
        if not value.isdigit():
            raise ValueError(f"{row['source']}: upstream_stale_after_days in {SOURCES_SEED.name} must be a whole "
                             f"number of days, not {value!r}")
        thresholds[row["source"]] = int(value)
    return thresholds


def upstream_freshness(connection: duckdb.DuckDBPyConnection, source_id: str, kind: str,
                       checked_at: datetime | None = None) -> UpstreamFreshness:
    """When ``source_id``'s parsed content last changed (``kind`` = gpu | token), as of ``checked_at`` (now)."""
    if kind not in ("gpu", "token"):
        raise ValueError(f"{source_id}: unknown source kind {kind!r} (expected gpu or token)")
    checked_at = checked_at or datetime.now(UTC)
    changed_at = connection.execute(
        f"select max(observed_at) from raw.{kind}_observations where source = ? and observed_at <= ?",
        [source_id, checked_at]).fetchone()[0]
    thresholds = stale_after_days()
    if source_id not in thresholds:
        raise ValueError(f"{source_id}: no row in {SOURCES_SEED.name} (add one with its upstream_stale_after_days)")
    return UpstreamFreshness(source_id, changed_at, thresholds[source_id], checked_at)
