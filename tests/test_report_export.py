"""The user's outputs: the self-contained HTML report and the Parquet export."""

from __future__ import annotations

import re
import shutil

import duckdb
from dagster import AssetKey, materialize

from pipelines.cli import main


def test_refresh_writes_the_report_only_when_asked(offline_warehouse):
    from pipelines.definitions import defs
    from pipelines.runs import refresh_selection

    report_key = AssetKey(["reports", "html_report"])
    assert not (offline_warehouse.data_dir / "report").exists()
    assert report_key not in refresh_selection(defs, ["litellm"], report=False)
    assert report_key in refresh_selection(defs, ["litellm"], report=True)
    assert AssetKey(["sources", "skypilot"]) not in refresh_selection(defs, ["litellm"], report=True)


def test_report_is_a_dagster_asset_of_the_published_warehouse(offline_warehouse, tmp_path):
    from pipelines.assets.report import html_report
    from pipelines.resources import MarginsSettings

    data_dir = tmp_path / "warehouse"
    data_dir.mkdir()
    shutil.copyfile(offline_warehouse.published_db, data_dir / "margins.duckdb")
    result = materialize([html_report], resources={"settings": MarginsSettings(data_dir=str(data_dir))})
    assert result.success
    assert (data_dir / "report" / "index.html").exists()
    metadata = result.asset_materializations_for_node("reports__html_report")[0].metadata
    assert "gpu_prices" in metadata and "path" in metadata


def test_report_is_self_contained_with_every_chart_captioned(offline_warehouse, tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    images = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)
    assert len(images) == 8
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page), "no CDN scripts or fonts"
    assert page.count("Newest data:") >= 5 and page.count("Sources:") == 8
    for name in ("gpu_prices", "token_prices", "implied_margins", "lifetime_economics", "model_lifetimes",
                 "lifetime_survival", "breakeven_sensitivity", "price_discrepancies"):
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_export_writes_every_mart_as_parquet_partitioned_by_month(offline_warehouse, tmp_path, capsys):
    assert main(["export", "--parquet", str(tmp_path)]) == 0
    assert (tmp_path / "fct_gpu_market_daily" / "month=2024-01").is_dir()
    with duckdb.connect() as connection, duckdb.connect(str(offline_warehouse.published_db), read_only=True) as db:
        exported = connection.execute(
            f"select count(*), count(distinct month) from read_parquet('{tmp_path}/fct_gpu_market_daily/*/*.parquet', "
            "hive_partitioning = true)").fetchone()
        assert exported[0] == db.execute("select count(*) from marts.fct_gpu_market_daily").fetchone()[0]
        assert exported[1] > 24
        dims = connection.execute(f"select count(*) from '{tmp_path}/dim_models/dim_models.parquet'").fetchone()[0]
        assert dims == db.execute("select count(*) from marts.dim_models").fetchone()[0]


def test_report_gives_each_cohort_median_with_its_interval_and_the_log_rank_p_value(published, tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()

    def months(value):
        return "—" if value is None else f"{value:.1f}"

    for cohort, median, low, high in published.execute(
            "select cohort, median_months, median_ci_low, median_ci_high from marts.fct_lifetime_cohorts").fetchall():
        assert f"<td>{cohort}</td>" in page
        assert f"<td>{months(median)}</td><td>{months(low)} – {months(high)}</td>" in page, cohort
    for test, p_value in published.execute("select test, p_value from marts.fct_lifetime_logrank").fetchall():
        assert f"<td>{test}</td>" in page and f"<td>{p_value:.4f}</td>" in page
    grid_cells = published.execute("select count(*) from raw.scenarios where scenario_id like '%-sensitivity-%'")
    assert page.count("<td>tp0") == grid_cells.fetchone()[0]
