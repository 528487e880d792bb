"""The whole offline refresh (real Dagster run, real dbt build, real DuckDB files) on the bundled history."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.sources.base import bundled_manifest
from tests.conftest import session_processes


def test_p5_48xlarge_us_east_1_per_gpu_price_in_the_v8_snapshot(published):
    rows = published.execute("""
        select distinct usd_per_hour, usd_per_gpu_hour, gpu_model, gpu_count
        from marts.fct_gpu_prices_daily
        where source = 'skypilot' and instance_type = 'p5.48xlarge' and region = 'us-east-1'
          and pricing_type = 'on_demand' and price_date = date '2026-11-27'
    """).fetchall()
    assert rows == [(Decimal("55.04"), Decimal("55.04") / 8, "H100", 8)]


def test_gpt_4o_prices_in_2024_06_and_2026_11(published):
    def price_on(day: str):
        return published.execute("""
            select usd_per_1m_input, usd_per_1m_output from marts.fct_token_prices_daily
            where source = 'litellm' and provider = 'openai' and source_model_key = 'gpt-4o' and price_date = ?
        """, [day]).fetchall()

    assert price_on("2024-06-15") == [(Decimal("5.00"), Decimal("15.00"))]
    assert price_on("2026-11-20") == [(Decimal("2.50"), Decimal("10.00"))]


def test_h100_market_history_spans_several_years(published):
    first, last, days = published.execute("""
        select min(price_date), max(price_date), count(*) from marts.fct_gpu_market_daily where gpu_model = 'H100'
    """).fetchone()
    assert first <= date(2023, 12, 31) and last >= date(2026, 11, 1)
    assert days > 365


def test_every_daily_row_is_within_90_days_of_its_observation(published):
    worst = published.execute("""
        select max(days_since_observed) from marts.fct_gpu_prices_daily
        union all select max(days_since_observed) from marts.fct_token_prices_daily
    """).fetchall()
    assert all(0 <= value <= 90 for (value,) in worst)


def test_rows_without_a_gpu_count_never_reach_the_daily_mart(published):
    assert published.execute("""
        select count(*) from marts.fct_gpu_prices_daily where source = 'gpu_trackers' and region is null
          and instance_type is null and gpu_count is null
    """).fetchone()[0] == 0
    # change-only storage: the tracker's 8 dated snapshots land as 70 change rows (57 price versions)
    changes, snapshots = published.execute("""
        select (select count(*) from raw.gpu_observations where scope = 'becloudready/gpu-price'),
               (select count(*) from raw.snapshots where scope = 'becloudready/gpu-price')
    """).fetchone()
    assert changes > 50 and snapshots >= 8


def test_offline_sources_are_stale_and_the_warehouse_is_published(published):
    rows = published.execute("select source, is_stale, n_snapshots from marts.source_status").fetchall()
    assert {row[0] for row in rows} >= {"skypilot", "gpu_trackers", "litellm", "openrouter"}
    assert all(is_stale for _, is_stale, _ in rows)
    # every source that ships bundled snapshots has them; the GPU price APIs (aws, azure, …) are live only
    bundled = {entry["source"] for entry in bundled_manifest()}
    assert all(n > 0 for source, _, n in rows if source in bundled)


def test_warehouse_has_exactly_the_four_schemas(published):
    schemas = {row[0] for row in published.execute(
        "select distinct table_schema from information_schema.tables").fetchall()}
    assert schemas == {"raw", "staging", "intermediate", "marts"}


@pytest.mark.slow
def test_second_refresh_adds_fetch_log_rows_but_no_observations_and_publishes_nothing(warehouse_copy, capsys):
    def counts(database):
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.execute("""
                select (select count(*) from raw.gpu_observations), (select count(*) from raw.token_observations),
                       (select count(*) from raw.snapshots), (select count(*) from raw.fetch_log)
            """).fetchone()

    gpu_before, token_before, snapshots_before, fetches_before = counts(warehouse_copy.working_db)
    published_before = warehouse_copy.published_db.stat().st_mtime_ns
    assert main(["refresh", "--offline"]) == 0
    gpu_after, token_after, snapshots_after, fetches_after = counts(warehouse_copy.working_db)
    assert (gpu_after, token_after, snapshots_after) == (gpu_before, token_before, snapshots_before)
    assert fetches_after > fetches_before, "every attempt is logged in the working database"
    # nothing new landed, same dbt project, same as-of day: no dbt build, the published copy is left as it was
    assert warehouse_copy.published_db.stat().st_mtime_ns == published_before
    assert "nothing new" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.slow
def test_no_process_outlives_margins_refresh(warehouse_copy):
    # a session of its own: every process the refresh starts inherits the session id, the refresh's pid
    refresh = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "refresh", "--offline"], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, errors = refresh.communicate(timeout=600)
    assert refresh.returncode == 0, errors[-2000:]
    assert session_processes(refresh.pid) == []


def test_sql_command_reads_the_published_copy(offline_warehouse, capsys):
    assert main(["sql", "select gpu_model, min(price_date), max(price_date) from marts.fct_gpu_market_daily "
                        "where gpu_model = 'H100' group by 1", "--format", "csv"]) == 0
    output = capsys.readouterr().out.splitlines()
    assert output[0] == "gpu_model,min(price_date),max(price_date)"
    assert output[1].startswith("H100,")


def test_sql_command_without_a_published_warehouse_says_so(data_dir, capsys):
    assert main(["sql", "select 1"]) == 1
    assert "no published warehouse" in capsys.readouterr().err


def test_unknown_source_exits_2(data_dir, capsys):
    assert main(["refresh", "--sources", "nope"]) == 2
    assert "unknown source" in capsys.readouterr().err


def test_row_counts_are_dagster_metadata(offline_warehouse):
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.get() as instance:
        published = instance.get_latest_materialization_event(AssetKey(["published", "margins_duckdb"]))
        assert "mart_row_counts" in published.asset_materialization.metadata
        observations = instance.fetch_observations(AssetKey(["marts", "fct_gpu_market_daily"]), limit=1).records
        assert observations
        assert observations[0].asset_observation.metadata["dagster/row_count"].value > 1000


def test_refresh_reuses_dbts_saved_parse(offline_warehouse):
    logs = sorted((offline_warehouse.data_dir / "logs").glob("refresh-*.log"))
    text = logs[0].read_text()
    assert "Completed successfully" in text
    assert "Unable to do partial parsing" not in text


def test_dbt_leaves_its_artifacts_in_the_data_directory(offline_warehouse):
    """One folder per data directory (work/dbt_target), overwritten by each build, not a new folder per run under
    dbt_project/target/ (6 MB each, kept forever)."""
    target = offline_warehouse.data_dir / "work" / "dbt_target"
    results = json.loads((target / "run_results.json").read_text())
    assert results["results"] and {result["status"] for result in results["results"]} <= {"success", "pass"}
    assert (target / "partial_parse.msgpack").exists()


def test_views_resolve_in_the_published_copy(published):
    # views name their catalog; the working and the published file share the name `margins`, so they resolve
    views = [row[0] for row in published.execute(
        "select table_schema || '.' || table_name from information_schema.tables where table_type = 'VIEW'").fetchall()]
    assert "intermediate.int_gpu_price_history" in views
    for view in views:
        published.execute(f"select * from {view} limit 1").fetchall()


def test_a_refresh_with_nothing_new_never_imports_dbt(warehouse_copy):
    # the sources run from the part of the code location that loads without dbt (pipelines.sources_definitions)
    script = ("import sys; from pipelines.cli import main; code = main(['refresh', '--offline']); "
              "print(sorted(name for name in sys.modules if name.split('.')[0] in ('dbt', 'dagster_dbt'))); "
              "sys.exit(code)")
    refresh = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert refresh.returncode == 0, refresh.stderr[-2000:]
    assert refresh.stdout.strip().splitlines()[-1] == "[]"


def test_margins_sql_and_status_answer_without_importing_dagster_or_pandas(offline_warehouse):
    # a reader's command starts in a fraction of a second: Dagster's import alone is ~0.7 s, pandas' ~0.4 s
    script = ("import sys; from pipelines.cli import main; "
              "code = main(['sql', 'select count(*) from marts.dim_gpus']) or main(['status']); "
              "print(sorted({name.split('.')[0] for name in sys.modules} & {'dagster', 'pandas', 'dbt'})); "
              "sys.exit(code)")
    reader = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert reader.returncode == 0, reader.stderr[-2000:]
    assert reader.stdout.strip().splitlines()[-1] == "[]"
