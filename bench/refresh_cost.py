"""A refresh costs what changed (issue 15): the no-op refresh and the one-day refresh, timed as `margins` runs.

Both run on the warehouse the offline refresh of ``bench.refresh`` built from the bundled history, as of yesterday
(UTC):
- **no-op**: `margins refresh --offline` again, same as-of day. Nothing lands, so the dbt build and the publish are
  skipped (pipelines.dbt_state). Median of three runs.
- **one day**: a live `margins refresh` of LiteLLM, OpenRouter and SkyPilot (all 12 bundled clouds) as of today,
  from a local HTTP server on 127.0.0.1 serving the bundled real-size captures (seeds/snapshots) with about 2 % of
  the prices moved by -3 % (deterministically), the shape of a real next day. It lands 14 new payloads and runs an
  incremental dbt build and a publish. It is the first live day after the bundled history, whose newest
  snapshots are days (LiteLLM, SkyPilot) to months (OpenRouter) old: the incremental marts redraw every day since
  the snapshot before the new one (about 108 days of token prices).
- **next day (steady state)**: the same three sources as of tomorrow, another 2 % of the prices moved: a day after a
  live refresh, as a daily schedule runs, so the incremental windows are a few days.

The baselines are the issue's own measurements before this change (a quiet machine): every refresh ran the whole
dbt build and the publish, so a refresh that landed nothing took about 38 s (median of 3).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.generate import REPO
from bench.refresh import RefreshRun, run_refresh

NOOP_TARGET_S = 8.0
ONE_DAY_TARGET_S = 25.0
NOOP_BASELINE = "~38 s before issue 15 (median of 3, quiet machine: dbt build + publish every time)"
ONE_DAY_BASELINE = "before issue 15 every refresh, even one with nothing new, took ~38 s"
SNAPSHOTS = REPO / "seeds" / "snapshots"
SKYPILOT_CLOUDS = ("aws", "gcp", "hyperbolic", "hyperstack", "jarvislabs", "lambda", "mithril", "nebius", "seeweb",
                   "shadeform", "vast", "verda")
MOVED_SHARE = 0.02
MOVE = 0.97


@dataclass
class CostRuns:
    noop: list[RefreshRun]
    one_day: RefreshRun | None
    payload_bytes: int
    next_day: RefreshRun | None = None

    @property
    def noop_median_s(self) -> float:
        return statistics.median(run.wall_s for run in self.noop)


def as_of_days() -> tuple[str, str, str]:
    """(yesterday, today, tomorrow) in UTC: the bundled build and the no-op are as of yesterday, the new day is
    today, the steady-state day tomorrow (today's fetches are observed before its end, so none is ignored)."""
    today = datetime.now(UTC).date()
    return (today - timedelta(days=1)).isoformat(), today.isoformat(), (today + timedelta(days=1)).isoformat()


def _moved(key: str, day: int = 1) -> bool:
    """About MOVED_SHARE of the offers, the same ones on every run; another share on day 2."""
    salted = key if day == 1 else f"{day}:{key}"
    return int(hashlib.sha256(salted.encode()).hexdigest()[:8], 16) < MOVED_SHARE * 0xFFFFFFFF


def _snapshot(relative: str) -> bytes:
    return gzip.decompress((SNAPSHOTS / relative).read_bytes())


def next_day_litellm(day: int = 1) -> bytes:
    prices = json.loads(_snapshot("litellm/litellm_model_prices_2026-11-20.json.gz"))
    for key, entry in prices.items():
        if isinstance(entry, dict) and _moved(key, day):
            for field in ("input_cost_per_token", "output_cost_per_token"):
                if isinstance(entry.get(field), int | float):
                    entry[field] = entry[field] * MOVE
    return json.dumps(prices, indent=4).encode()


def next_day_openrouter(day: int = 1) -> bytes:
    listing = json.loads(_snapshot("openrouter/openrouter_models_2026-08-19.json.gz"))
    for model in listing["data"]:
        pricing = model.get("pricing") or {}
        if _moved(model.get("id", ""), day):
            for field in ("prompt", "completion"):
                if field in pricing and float(pricing[field]) > 0:
                    pricing[field] = f"{float(pricing[field]) * MOVE:.12f}".rstrip("0")
    return json.dumps(listing).encode()


def next_day_skypilot(cloud: str, day: int = 1) -> bytes:
    reader = csv.DictReader(io.StringIO(_snapshot(f"skypilot/skypilot_v8_{cloud}_vms_gpu.csv.gz").decode()))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    for row in reader:
        key = "|".join((cloud, row.get("InstanceType", ""), row.get("Region", ""), row.get("AvailabilityZone", "")))
        if _moved(key, day) and row.get("Price"):
            row["Price"] = f"{float(row['Price']) * MOVE:.5f}"
        writer.writerow(row)
    return out.getvalue().encode()


def measure(workdir: Path, data_dir: Path, noop_runs: int = 3) -> CostRuns:
    """The no-op refreshes, then the one-day refresh and the next (steady-state) day, on ``data_dir`` (built as of
    yesterday by bench.refresh)."""
    from tests.http_server import FixtureServer

    yesterday, today, tomorrow = as_of_days()
    noop = [run_refresh(workdir, data_dir, ["--offline"], {"MARGINS_AS_OF": yesterday}, label=f"noop{i}")
            for i in range(noop_runs)]
    with FixtureServer() as server:
        one_day, payload_bytes = _live_day(server, workdir, data_dir, today, day=1)
        next_day = _live_day(server, workdir, data_dir, tomorrow, day=2)[0] if one_day.ok else None
    return CostRuns(noop, one_day, payload_bytes, next_day)


def _live_day(server, workdir: Path, data_dir: Path, as_of: str, day: int) -> tuple[RefreshRun, int]:
    """A live refresh of LiteLLM, OpenRouter and SkyPilot as of ``as_of``, served the captures with day ``day``'s
    moves; the run and the payloads' bytes."""
    from tests.http_server import Reply

    payloads = {"/litellm/model_prices_and_context_window.json": next_day_litellm(day),
                "/openrouter/api/v1/models": next_day_openrouter(day)}
    payloads |= {f"/skypilot/v8/{cloud}/vms.csv": next_day_skypilot(cloud, day) for cloud in SKYPILOT_CLOUDS}
    for path, body in payloads.items():
        server.route(path, Reply(200, body))
    environment = {
        "MARGINS_AS_OF": as_of,
        "MARGINS_LITELLM_URL": f"{server.url}/litellm/model_prices_and_context_window.json",
        "MARGINS_OPENROUTER_URL": f"{server.url}/openrouter/api/v1/models",
        "MARGINS_SKYPILOT_URL": f"{server.url}/skypilot/v8",
        "MARGINS_SKYPILOT_CLOUDS": ",".join(SKYPILOT_CLOUDS),
    }
    run = run_refresh(workdir, data_dir, ["--sources", "litellm,openrouter,skypilot"], environment,
                      label="one_day" if day == 1 else f"day{day}")
    return run, sum(len(body) for body in payloads.values())


def rows(runs: dict) -> list[tuple[str, str, str, str]]:
    """Table rows for bench.__main__.render from the JSON-able results."""
    out = []
    noop = runs.get("noop") or []
    if noop:
        walls = sorted(run["wall_s"] for run in noop)
        median = statistics.median(walls)
        ok = all(run["ok"] for run in noop) and median <= NOOP_TARGET_S
        out.append(("no-op refresh (nothing new, same as-of day), median of 3",
                    f"{median:.1f} s ({', '.join(f'{wall:.1f}' for wall in walls)})",
                    f"<= {NOOP_TARGET_S:.0f} s; baseline {NOOP_BASELINE}",
                    f"{median / NOOP_TARGET_S:.2f}x: {'met' if ok else 'NOT met'}"))
    one_day = runs.get("one_day")
    if one_day:
        out.append(_day_row(f"one-day refresh (14 live real-size payloads, {runs['payload_bytes'] / 1e6:.0f} MB, "
                            "+1 as-of day; first live day after the bundled history)", one_day))
    next_day = runs.get("next_day")
    if next_day:
        out.append(_day_row("  the next day (steady state: the day after a live refresh)", next_day))
    return out


def _day_row(label: str, run: dict) -> tuple[str, str, str, str]:
    ok = run["ok"] and run["wall_s"] <= ONE_DAY_TARGET_S
    dbt = dict(run["steps"]).get("warehouse_models", 0.0)
    return (label,
            f"{run['wall_s']:.1f} s (dbt step {dbt:.1f})" + ("" if run["ok"] else f" (exit {run['exit_code']})"),
            f"<= {ONE_DAY_TARGET_S:.0f} s; baseline {ONE_DAY_BASELINE}",
            f"{run['wall_s'] / ONE_DAY_TARGET_S:.2f}x: {'met' if ok else 'NOT met'}")
