"""gpu_cross_source: the SkyPilot catalog vs the clouds' own price APIs, in one real refresh on local servers.

The API fixtures copy SkyPilot's prices, so they agree; the labelled DERIVED SkyPilot AWS file
(tests/fixtures/README.md) lists p5.48xlarge in us-east-1 at 98.32, its price before AWS's June 2025 cut, and is
landed as a SkyPilot catalog commit of 2025-05-23 (a backfill), the day of the AWS offer file that says 55.04.
Lambda's API and SkyPilot's live Lambda rows are compared on the refresh's day and agree.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.settings import Settings, api_key_variable
from tests import gpu_api_routes as routes
from tests.github_emulator import GitHubEmulator
from tests.http_server import Reply, fixture_bytes

DERIVED_AWS_CATALOG = "gpu/skypilot_v8_aws_vms_gpu_DERIVED_p5_pre_cut.csv"
SKYPILOT_CLOUDS = ("aws", "lambda")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_discrepancies")
    patch = pytest.MonkeyPatch()
    with GitHubEmulator() as server:
        try:
            patch.setenv("MARGINS_DATA_DIR", str(root / "warehouse"))
            patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
            patch.delenv("MARGINS_OFFLINE", raising=False)
            routes.clear_api_keys(patch)
            patch.setenv("MARGINS_GITHUB_API_URL", server.api_url)
            patch.setenv("MARGINS_GITHUB_RAW_URL", server.raw_url)
            patch.setenv("MARGINS_SKYPILOT_CLOUDS", ",".join(SKYPILOT_CLOUDS))
            server.add_commit("skypilot-org/skypilot-catalog", "catalogs/v8/aws/vms.csv",
                              hashlib.sha1(b"derived p5 pre-cut").hexdigest(), "2025-05-23T12:00:00Z",
                              fixture_bytes(DERIVED_AWS_CATALOG))
            assert main(["backfill", "--source", "skypilot", "--since", "2025-05-01", "--until", "2025-05-31",
                         "--no-build"]) == 0
            patch.setenv("MARGINS_SKYPILOT_URL", f"{server.url}/skypilot/catalogs/v8")
            for cloud in SKYPILOT_CLOUDS:
                server.route(f"/skypilot/catalogs/v8/{cloud}/vms.csv",
                             Reply(200, fixture_bytes(f"gpu/skypilot_v8_{cloud}_vms_gpu.csv")))
            for name, value in {**routes.route_aws(server), **routes.route_lambda(server)}.items():
                patch.setenv(name, value)
            patch.setenv(api_key_variable("lambda"), "test-lambda-key")
            assert main(["refresh", "--strict", "--sources", "skypilot,aws,lambda"]) == 0
            with duckdb.connect(str(Settings.from_env().published_db), read_only=True) as connection:
                yield connection
        finally:
            patch.undo()


def test_the_catalogs_pre_cut_p5_price_disagrees_with_the_aws_offer_file(warehouse):
    rows = warehouse.execute("""
        select provider, instance_type, region, pricing_type, source_a, value_a, source_b, value_b, preferred_source,
               round(relative_difference, 6), days_apart, first_seen_date, is_resolved_later
        from marts.price_discrepancies where kind = 'gpu_cross_source' and price_date = date '2025-05-23'
    """).fetchall()
    assert rows == [("aws", "p5.48xlarge", "us-east-1", "on_demand", "skypilot", Decimal("98.320000"), "aws",
                     Decimal("55.040000"), "aws", round(98.32 / 55.04 - 1, 6), 0, date(2025, 5, 23), False)]


def test_every_other_aws_instance_was_compared_and_agrees(warehouse):
    compared, agreeing = warehouse.execute("""
        select count(*), count(*) filter (where value_a = value_b) from marts.gpu_price_comparisons
        where provider = 'aws' and price_date = date '2025-05-23'""").fetchone()
    aws_offers = warehouse.execute("""
        select count(*) from marts.fct_gpu_prices_daily where source = 'aws' and price_date = date '2025-05-23'
    """).fetchone()[0]
    assert compared == aws_offers == 18
    assert agreeing == compared - 1


def test_lambdas_api_and_the_catalog_agree_today(warehouse):
    today = warehouse.execute("select max(price_date) from marts.fct_gpu_prices_daily where source = 'lambda'"
                              ).fetchone()[0]
    pairs = warehouse.execute("""
        select instance_type, region, value_a, value_b from marts.gpu_price_comparisons
        where provider = 'lambda' and price_date = ? order by instance_type""", [today]).fetchall()
    assert pairs and all(value_a == value_b for _, _, value_a, value_b in pairs)
    assert {(instance, region) for instance, region, _, _ in pairs} == {
        ("gpu_1x_h100_sxm5", "us-east-1"), ("gpu_8x_h100_sxm5", "us-east-1")}
    assert warehouse.execute(
        "select count(*) from marts.price_discrepancies where provider = 'lambda'").fetchone()[0] == 0


def test_the_aws_offer_file_is_upstream_stale_and_lambda_is_not(warehouse):
    status = {row[0]: row[1:] for row in warehouse.execute("""
        select source, upstream_changed_at, is_upstream_stale from marts.source_status
        where source in ('aws', 'lambda')""").fetchall()}
    assert status["aws"][0].isoformat().startswith("2025-05-23T23:27:44") and status["aws"][1] is True
    assert status["lambda"][1] is False
