"""The essay scenario's sensitivity grid: its seed rows against the throughput profiles, and the essay's own rows of
fct_lifetime_economics unchanged by it (a real dbt build of the project without the grid, compared with the
shared offline build with it)."""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
from pathlib import Path

import duckdb

from pipelines.dbt_resource import DBT_PROJECT_DIR, dbt_executable
from pipelines.reference import SEEDS_DIR

GRID_PREFIX = "frontier-subscription-sensitivity-"
ESSAY_COLUMNS = ("model_id", "gpu_model", "gpus_per_replica", "tokens_per_second_per_user", "monthly_users",
                 "paying_share", "arpu_usd_per_month", "training_cost_usd", "days_per_month")
ESSAY_ROWS = """
    select * exclude (price_date), coalesce(cast(price_date as varchar), 'fixed') as price_date
    from marts.fct_lifetime_economics where scenario_id = 'frontier-subscription'
    order by price_basis, price_date, lifetime_months
"""


def read_seed(name: str, folder: Path = SEEDS_DIR) -> list[dict[str, str]]:
    with open(folder / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_grid_rows_are_the_essay_scenario_at_each_price_and_llama_405b_h200_throughput():
    scenarios = {row["scenario_id"]: row for row in read_seed("scenarios.csv")}
    profiles = {row["profile_id"]: row for row in read_seed("throughput_profiles.csv")}
    essay = scenarios["frontier-subscription"]
    grid = [row for key, row in scenarios.items() if key.startswith(GRID_PREFIX)]
    llama_h200 = {key for key, row in profiles.items()
                  if row["model_id"] == "llama-3.1-405b-instruct" and row["gpu_model"] == "H200"
                  and row["metric_basis"] in ("output_tok_per_s_replica", "output_tok_per_s_system")}
    assert {row["throughput_profile_id"] for row in grid} == llama_h200 and "tp007" in llama_h200
    cells = {(row["scenario_id"].removeprefix(GRID_PREFIX).split("-")[0], row["throughput_profile_id"])
             for row in grid}
    assert cells == {(price, profile) for price in ("fixed", "median", "min") for profile in llama_h200}
    for row in grid:
        profile = profiles[row["throughput_profile_id"]]
        price = row["scenario_id"].removeprefix(GRID_PREFIX).split("-")[0]
        throughput = float(row["replica_output_tokens_per_second"])
        assert throughput == float(profile["output_tokens_per_second"]), row["scenario_id"]
        assert row["scenario_id"].endswith(row["throughput_profile_id"])
        # the fleet that serves the essay's 16,000 / 8 x 506 output tokens/s at this throughput
        assert int(row["fleet_gpus"]) == 8 * math.ceil(16000 / 8 * 506 / throughput), row["scenario_id"]
        assert all(row[column] == essay[column] for column in ESSAY_COLUMNS), row["scenario_id"]
        if price == "fixed":
            assert (row["fixed_usd_per_gpu_hour"], row["market_price_basis"]) == (essay["fixed_usd_per_gpu_hour"], "")
        else:
            assert (row["fixed_usd_per_gpu_hour"], row["market_price_basis"]) == ("", price)
    assert int(scenarios[GRID_PREFIX + "fixed-tp007"]["fleet_gpus"]) == int(essay["fleet_gpus"]) == 16000
    lifetimes = read_seed("scenario_lifetimes.csv")
    essay_lifetimes = [row["lifetime_months"] for row in lifetimes if row["scenario_id"] == "frontier-subscription"]
    for row in grid:
        assert [r["lifetime_months"] for r in lifetimes if r["scenario_id"] == row["scenario_id"]] == essay_lifetimes


def test_grid_cells_in_the_mart_price_at_their_basis(published):
    rows = published.execute(f"""
        select scenario_id, price_basis, count(*) filter (where price_date is null), count(distinct price_date),
               count(distinct lifetime_months)
        from marts.fct_lifetime_economics where scenario_id like '{GRID_PREFIX}%' group by all
    """).fetchall()
    assert len(rows) == 36
    for scenario_id, basis, fixed_rows, days, lifetimes in rows:
        price = scenario_id.removeprefix(GRID_PREFIX).split("-")[0]
        assert basis == ("fixed" if price == "fixed" else f"market_{price}"), scenario_id
        assert lifetimes == 6 and (fixed_rows == 6 if price == "fixed" else fixed_rows == 0 and days > 100)
    mismatched = published.execute(f"""
        select count(*) from marts.fct_lifetime_economics as economics
        join marts.fct_gpu_market_daily as market
          on market.price_date = economics.price_date and market.gpu_model = 'H200'
        where economics.scenario_id like '{GRID_PREFIX}%'
          and economics.usd_per_gpu_hour <> case economics.price_basis
                                                when 'market_min' then market.min_usd_per_gpu_hour
                                                else market.median_usd_per_gpu_hour end
    """).fetchone()[0]
    assert mismatched == 0


def test_the_essay_rows_are_the_same_with_and_without_the_grid(offline_warehouse, published, tmp_path):
    """Before: a copy of the project whose seeds lack the grid, built (seeds, scenario_prices,
    fct_lifetime_economics) over a copy of the same working database. After: the shared build with the grid."""
    project, seeds = tmp_path / "dbt_project", tmp_path / "seeds" / "reference"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.copytree(SEEDS_DIR, seeds)
    for name in ("scenarios.csv", "scenario_lifetimes.csv"):
        rows = read_seed(name, seeds)
        kept = [row for row in rows if not row["scenario_id"].startswith(GRID_PREFIX)]
        assert 0 < len(kept) < len(rows)
        with open(seeds / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
    database = tmp_path / "work" / "margins.duckdb"
    database.parent.mkdir()
    shutil.copyfile(offline_warehouse.working_db, database)
    result = subprocess.run(
        [dbt_executable(), "build", "--select", "scenarios", "scenario_lifetimes", "scenario_prices",
         "fct_lifetime_economics", "--project-dir", str(project), "--profiles-dir", str(project)],
        env={**os.environ, "MARGINS_WORK_DB": str(database)}, cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(database), read_only=True) as before:
        grid_rows = before.execute(
            f"select count(*) from marts.fct_lifetime_economics where scenario_id like '{GRID_PREFIX}%'").fetchone()[0]
        assert grid_rows == 0
        before_rows = before.execute(ESSAY_ROWS).fetchall()
    after_rows = published.execute(ESSAY_ROWS).fetchall()
    assert len(after_rows) > 6 and after_rows == before_rows
