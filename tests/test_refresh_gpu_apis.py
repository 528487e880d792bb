"""One live refresh of skypilot, aws and azure against a local server (real Dagster run, real dbt build).

The refresh runs once per module; the tests below read its published warehouse.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.settings import Settings
from tests import gpu_api_routes as routes
from tests.http_server import FixtureServer, Reply, fixture_bytes

# slow: a refresh of its own
pytestmark = pytest.mark.slow

SKYPILOT_CLOUDS = ("aws", "gcp", "lambda", "nebius")
FLAGSHIP_GPUS = {"H100", "H200", "B200"}


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_apis")
    patch = pytest.MonkeyPatch()
    with FixtureServer() as server:
        try:
            patch.setenv("MARGINS_DATA_DIR", str(root / "warehouse"))
            patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
            patch.delenv("MARGINS_OFFLINE", raising=False)
            routes.clear_api_keys(patch)
            patch.setenv("MARGINS_SKYPILOT_URL", f"{server.url}/skypilot/catalogs/v8")
            patch.setenv("MARGINS_SKYPILOT_CLOUDS", ",".join(SKYPILOT_CLOUDS))
            for cloud in SKYPILOT_CLOUDS:
                server.route(f"/skypilot/catalogs/v8/{cloud}/vms.csv",
                             Reply(200, fixture_bytes(f"gpu/skypilot_v8_{cloud}_vms_gpu.csv")))
            for name, value in {**routes.route_aws(server), **routes.route_azure(server)}.items():
                patch.setenv(name, value)
            assert main(["refresh", "--strict", "--sources", "skypilot,aws,azure"]) == 0
            settings = Settings.from_env()
            with duckdb.connect(str(settings.published_db), read_only=True) as connection:
                yield connection
        finally:
            patch.undo()


def gpu_offers(connection, source: str) -> set[tuple[str, str]]:
    return set(connection.execute(
        "select distinct gpu_model, pricing_type from marts.fct_gpu_prices_daily where source = ?", [source]
    ).fetchall())


def test_the_three_sources_are_fresh(refreshed):
    status = dict(refreshed.execute(
        "select source, is_stale from marts.source_status where source in ('skypilot', 'aws', 'azure')").fetchall())
    assert status == {"skypilot": False, "aws": False, "azure": False}


def test_skypilot_and_aws_offer_h100_h200_b200_and_azure_h100_h200(refreshed):
    skypilot, aws, azure = (gpu_offers(refreshed, source) for source in ("skypilot", "aws", "azure"))
    assert {(gpu, "on_demand") for gpu in FLAGSHIP_GPUS} <= skypilot
    assert {gpu for gpu, pricing in skypilot if pricing == "spot"} >= FLAGSHIP_GPUS
    assert {(gpu, "on_demand") for gpu in FLAGSHIP_GPUS} <= aws
    assert {(gpu, pricing) for gpu in ("H100", "H200") for pricing in ("on_demand", "spot")} <= azure


def test_aws_p5_48xlarge_us_east_1_is_dated_by_the_offer_publication(refreshed):
    row = refreshed.execute("""
        select price_date, usd_per_hour, usd_per_gpu_hour, gpu_count, observed_at from marts.fct_gpu_prices_daily
        where source = 'aws' and instance_type = 'p5.48xlarge' and region = 'us-east-1'
        order by price_date""").fetchall()
    # issue 12: the price is carried forward from its observation (at most 90 days), so it has one row per day
    assert 1 < len(row) <= 91 and len({r[1:] for r in row}) == 1
    price_date, per_hour, per_gpu, count, observed_at = row[0]
    assert str(price_date) == "2025-05-23" and observed_at.isoformat().startswith("2025-05-23T23:27:44")
    assert (per_hour, per_gpu, count) == (Decimal("55.040000"), Decimal("6.880000"), 8)


def test_azure_nd96isr_h100_v5_counts_eight_gpus_from_the_sku_seed(refreshed):
    rows = refreshed.execute("""
        select pricing_type, usd_per_hour, usd_per_gpu_hour, gpu_count, gpu_model from marts.fct_gpu_prices_daily
        where source = 'azure' and instance_type = 'Standard_ND96isr_H100_v5' and region = 'eastus'
          and price_date = (select max(price_date) from marts.fct_gpu_prices_daily where source = 'azure')
    """).fetchall()
    assert rows == [("on_demand", Decimal("98.320000"), Decimal("12.290000"), 8, "H100")]


def test_azure_h100_nvl_sizes_are_not_counted_as_h100(refreshed):
    models = dict(refreshed.execute("""
        select distinct instance_type, gpu_model from marts.fct_gpu_prices_daily where source = 'azure'""").fetchall())
    assert models["Standard_NC40ads_H100_v5"] == "H100-NVL" and models["Standard_ND96isr_H200_v5"] == "H200"


def test_every_emitted_aws_and_azure_size_is_in_the_sku_seed(refreshed):
    assert refreshed.execute(
        "select * from marts.unmapped_gpu_aliases where source in ('aws', 'azure')").fetchall() == []
    assert refreshed.execute("""select count(*) from marts.fct_gpu_prices_daily
                                where source in ('aws', 'azure') and gpu_count_disagrees""").fetchone() == (0,)


def test_market_has_the_flagship_gpus_on_the_newest_day(refreshed):
    newest = refreshed.execute("select max(price_date) from marts.fct_gpu_market_daily").fetchone()[0]
    gpus = {row[0] for row in refreshed.execute(
        "select gpu_model from marts.fct_gpu_market_daily where price_date = ?", [newest]).fetchall()}
    assert gpus >= FLAGSHIP_GPUS
    providers = dict(refreshed.execute("""
        select gpu_model, n_providers from marts.fct_gpu_market_daily where price_date = ? and gpu_model = 'H100'
    """, [newest]).fetchall())
    # skypilot's clouds (aws, gcp, lambda, nebius) and azure
    assert providers["H100"] >= 5


def test_market_reflects_the_aws_offer_file_on_its_publication_day(refreshed):
    row = refreshed.execute("""
        select min_usd_per_gpu_hour, n_providers from marts.fct_gpu_market_daily
        where price_date = date '2025-05-23' and gpu_model = 'H100'""").fetchone()
    assert row == (Decimal("6.880000"), 1)
