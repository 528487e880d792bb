"""The GPU price API sources (aws, azure, gcp, lambda, runpod, vast) against a real local HTTP server.

Parse-level tests read the fixtures in tests/fixtures/gpu/ (see its README: which are real payloads and which are
documented shapes with real values). Fetch-level tests run the real ingest step (fetch -> land -> parse -> validate
-> raw tables in a real DuckDB file); nothing is patched.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pytest

from pipelines.http import HttpClient, HttpConfig
from pipelines.ingest import SourceOutcome, ingest_source
from pipelines.settings import Settings, api_key_variable
from pipelines.sources import SOURCES
from pipelines.sources.base import ParseError, Payload
from pipelines.sources.vast import DEFAULT_GPU_NAMES
from tests import gpu_api_routes as routes
from tests.http_server import FIXTURES, Reply, fixture_bytes

FAST = HttpConfig(connect_timeout=2, read_timeout=2, retries=1, backoff_factor=0.01, backoff_jitter=0.0,
                  backoff_max=0.05)
KEYS = {"gcp": "gcp-test-key-7f3a9c", "lambda": "lambda-test-key-51be02", "runpod": "runpod-test-key-c0ffee",
        "vast": "vast-test-key-9d41aa"}


def rows_where(rows, **conditions):
    return [row for row in rows if all(row.get(key) == value for key, value in conditions.items())]


def parse_fixture(source_id: str, relative: str, name: str | None = None) -> list[dict]:
    payload = Payload(name or relative.split("/")[-1], fixture_bytes(relative), "live")
    return SOURCES[source_id].parse(payload).rows


@pytest.fixture
def apis(server, data_dir, monkeypatch):
    routes.clear_api_keys(monkeypatch)
    for route in (routes.route_aws, routes.route_azure, routes.route_gcp, routes.route_lambda, routes.route_runpod,
                  routes.route_vast):
        for name, value in route(server).items():
            monkeypatch.setenv(name, value)
    return server


@pytest.fixture
def with_keys(monkeypatch):
    for source_id, key in KEYS.items():
        monkeypatch.setenv(api_key_variable(source_id), key)
    return KEYS


def ingest(source_id: str) -> SourceOutcome:
    http = HttpClient(FAST)
    try:
        return ingest_source(SOURCES[source_id], Settings.from_env(), http, run_id=f"test-{source_id}")
    finally:
        http.close()


def query(sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(Settings.from_env().working_db), read_only=True) as connection:
        return connection.execute(sql, list(params)).fetchall()


def raw_rows(source_id: str) -> list[dict]:
    with duckdb.connect(str(Settings.from_env().working_db), read_only=True) as connection:
        cursor = connection.execute("select * from raw.gpu_observations where source = ?", [source_id])
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]


# --- AWS ------------------------------------------------------------------------------------------------------------

def aws_offer(region: str) -> Payload:
    return Payload(f"{region}/index.csv", b"", "live", path=FIXTURES / "gpu" / "aws" / f"{region}_index.csv")


def test_aws_p5_48xlarge_per_gpu_price_is_the_instance_price_over_eight():
    rows = SOURCES["aws"].parse(aws_offer("us-east-1")).rows
    p5 = rows_where(rows, instance_type="p5.48xlarge", region="us-east-1")
    assert len(p5) == 1
    assert p5[0]["usd_per_hour"] == Decimal("55.040000")
    assert p5[0]["usd_per_gpu_hour"] == p5[0]["usd_per_hour"] / 8 == Decimal("6.88")
    assert p5[0]["gpu_count"] == 8 and p5[0]["pricing_type"] == "on_demand"
    assert p5[0]["observed_at"] == datetime(2025, 5, 23, 23, 27, 44, tzinfo=UTC)
    assert p5[0]["effective_date"] == date(2025, 5, 23)


def test_aws_keeps_only_plain_linux_on_demand_rows_of_gpu_instances():
    rows = SOURCES["aws"].parse(aws_offer("us-east-1")).rows
    # the fixture adds Windows, Dedicated, SQL Std, unused-reservation and Reserved-term rows for p5.48xlarge
    assert sorted(row["instance_type"] for row in rows) == [
        "p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5.4xlarge", "p5en.48xlarge", "p6-b200.48xlarge"]
    b200 = rows_where(rows, instance_type="p6-b200.48xlarge")[0]
    # the price list names no GPU: the gpu_sku_sizes seed names it by instance type
    assert b200["usd_per_gpu_hour"] == Decimal("14.241600") and b200["gpu_name"] == "B200"


def test_aws_instance_type_unknown_to_the_sku_seed_is_quarantined_as_unmapped(tmp_path):
    text = (FIXTURES / "gpu" / "aws" / "eu-west-1_index.csv").read_text()
    unknown = tmp_path / "index.csv"
    unknown.write_text(text.replace("p4d.24xlarge", "p9z.96xlarge"))
    batch = SOURCES["aws"].parse(Payload("eu-west-1/index.csv", b"", "live", path=unknown))
    assert batch.rows == []
    assert [(r.rule, r.row["gpu_name"]) for r in batch.rejects] == [("unmapped_gpu", "p9z.96xlarge")]


def test_aws_offer_file_that_is_not_an_offer_csv_is_rejected(tmp_path):
    html = tmp_path / "html"
    html.write_text("<html><body>Access Denied</body></html>\n")
    with pytest.raises(ParseError, match="Publication Date"):
        SOURCES["aws"].parse(Payload("us-east-1/index.csv", b"", "live", path=html))
    lines = (FIXTURES / "gpu" / "aws" / "us-east-1_index.csv").read_text().splitlines()
    renamed = tmp_path / "renamed"
    renamed.write_text("\n".join(lines[:5] + [lines[5].replace("Pre Installed S/W", "Software")] + lines[6:]))
    with pytest.raises(ParseError, match="Pre Installed S/W"):
        SOURCES["aws"].parse(Payload("us-east-1/index.csv", b"", "live", path=renamed))


def test_aws_streams_each_region_to_disk_lands_it_and_parses_it(apis):
    outcome = ingest("aws")
    assert outcome.status == "ok", outcome.message
    assert [p.name for p in outcome.payloads] == [f"{region}/index.csv" for region in routes.AWS_REGIONS]
    settings = Settings.from_env()
    landed = {path.name for path in (settings.landing_dir / "aws").iterdir()}
    assert {p.sha256 for p in outcome.payloads} <= landed
    assert not [p for p in settings.download_dir("aws").iterdir()], "downloads are moved, not copied"
    tokyo = rows_where(raw_rows("aws"), instance_type="p5en.48xlarge", region="ap-northeast-1")
    assert [(row["usd_per_hour"], row["usd_per_gpu_hour"]) for row in tokyo] == [(Decimal("79.12"), Decimal("9.89"))]


def test_aws_region_with_an_unchanged_version_url_is_confirmed_without_downloading(apis):
    assert ingest("aws").status == "ok"
    rows_before = len(raw_rows("aws"))
    second = ingest("aws")
    assert second.status == "ok", second.message
    assert [p.is_new for p in second.payloads] == [False] * len(routes.AWS_REGIONS)
    for region in routes.AWS_REGIONS:
        assert apis.hits(routes.aws_csv_path(region)) == 1, f"{region} downloaded twice"
    assert apis.hits("/aws/offers/v1.0/aws/AmazonEC2/current/region_index.json") == 2
    confirmations = query("""select url, count(*), count(distinct sha256) from raw.fetch_log
                             where source = 'aws' and status = 'ok' group by url""")
    assert len(confirmations) == len(routes.AWS_REGIONS)
    assert {(count, shas) for _, count, shas in confirmations} == {(2, 1)}
    assert len(raw_rows("aws")) == rows_before


def test_aws_truncated_offer_download_fails_aws_and_leaves_no_partial_file(apis):
    body = fixture_bytes("gpu/aws/us-west-2_index.csv")
    apis.route(routes.aws_csv_path("us-west-2"), Reply(200, body, truncate_to=len(body) // 2))
    outcome = ingest("aws")
    assert outcome.status == "failed" and outcome.message.startswith("aws: ")
    settings = Settings.from_env()
    assert list(settings.download_dir("aws").iterdir()) == []
    assert {row["region"] for row in raw_rows("aws")} == {"us-east-1"}, "regions before the failure are kept"


def test_aws_region_missing_from_the_index_fails_the_source_after_the_others_landed(apis, monkeypatch):
    monkeypatch.setenv("MARGINS_AWS_REGIONS", "us-east-1,xx-nowhere-1")
    outcome = ingest("aws")
    assert outcome.status == "failed" and "xx-nowhere-1" in outcome.message
    assert {row["region"] for row in raw_rows("aws")} == {"us-east-1"}


# --- Azure ----------------------------------------------------------------------------------------------------------

def azure_rows() -> list[dict]:
    return [row for number in range(1, routes.AZURE_PAGES + 1)
            for row in parse_fixture("azure", f"gpu/azure/retail_prices_page-{number}.json")]


def test_azure_nd96isr_h100_v5_eastus_on_demand_named_by_the_sku_seed():
    rows = rows_where(azure_rows(), instance_type="Standard_ND96isr_H100_v5", region="eastus")
    assert [(row["pricing_type"], row["usd_per_hour"]) for row in rows] == [("on_demand", Decimal("98.32"))]
    # the API has no GPU count: the gpu_sku_sizes seed gives 8 (per GPU 12.29 after dbt, see the refresh test)
    assert rows[0]["gpu_count"] is None and rows[0]["usd_per_gpu_hour"] is None
    assert rows[0]["gpu_name"] == "H100"  # from gpu_sku_sizes: the Retail Prices API names no GPU


def test_azure_size_unknown_to_the_sku_seed_is_quarantined_not_guessed():
    item = {"armSkuName": "Standard_ND96isr_H100_v5", "armRegionName": "eastus", "retailPrice": 98.32,
            "unitOfMeasure": "1 Hour", "meterName": "ND96isrH100v5", "type": "Consumption",
            "productName": "Virtual Machines NDsr H100 v5 Series"}
    page = json.dumps({"Items": [item, {**item, "armSkuName": "Standard_ND48s_H100_v5"}]}).encode()
    batch = SOURCES["azure"].parse(Payload("page.json", page, "live"))
    assert [row["instance_type"] for row in batch.rows] == ["Standard_ND96isr_H100_v5"]
    assert [(r.rule, r.row["instance_type"]) for r in batch.rejects] == [("unmapped_gpu", "Standard_ND48s_H100_v5")]


def test_azure_spot_and_low_priority_are_spot_and_windows_is_dropped():
    rows = azure_rows()
    items = [item for number in range(1, routes.AZURE_PAGES + 1)
             for item in json.loads(fixture_bytes(f"gpu/azure/retail_prices_page-{number}.json"))["Items"]]
    linux = [item for item in items if "Windows" not in item["productName"]]
    assert len(rows) == len(linux) < len(items)
    assert not rows_where(rows, instance_type="Standard_ND96isr_H100_v5", region="centralus")  # Windows only
    spot = rows_where(rows, instance_type="Standard_ND96isr_H100_v5", region="spaincentral")
    assert [(row["pricing_type"], row["usd_per_hour"]) for row in spot] == [("spot", Decimal("23.620397"))]
    low_priority = rows_where(rows, instance_type="Standard_ND96isr_H200_v5", region="eastus2")
    assert [(row["pricing_type"], row["usd_per_hour"]) for row in low_priority] == [("spot", Decimal("16.96"))]


def test_azure_sku_name_decides_spot_where_present():
    item = {"armSkuName": "Standard_ND96isr_H100_v5", "armRegionName": "eastus", "retailPrice": 98.32,
            "unitOfMeasure": "1 Hour", "meterName": "ND96isrH100v5", "skuName": "ND96isr H100 v5 Spot",
            "productName": "Virtual Machines NDsr H100 v5 Series", "type": "Consumption"}
    page = json.dumps({"Items": [item, {**item, "skuName": "ND96isr H100 v5"}]}).encode()
    rows = SOURCES["azure"].parse(Payload("page.json", page, "live")).rows
    assert [row["pricing_type"] for row in rows] == ["spot", "on_demand"]


def test_azure_follows_next_page_link_rebased_onto_the_local_server(apis):
    outcome = ingest("azure")
    assert outcome.status == "ok", outcome.message
    assert len(outcome.payloads) == routes.AZURE_PAGES >= 3
    assert [path for _, path, _ in apis.requests] == routes.azure_page_paths(apis)
    observed = query("select count(distinct observed_at) from raw.fetch_log where source = 'azure' and status = 'ok'")
    assert observed == [(1,)], "every page of one listing belongs to one snapshot"
    # change-only storage keeps one row per offer: Spot and Low Priority of one size are one offer (the cheaper)
    offer_key = ("provider", "region", "zone", "instance_type", "gpu_name", "gpu_count", "pricing_type")
    assert len(raw_rows("azure")) == len({tuple(row[column] for column in offer_key) for row in azure_rows()})


def test_azure_5xx_mid_pagination_fails_azure_only_and_lands_no_partial_listing(apis):
    apis.route(routes.azure_page_paths(apis)[1], Reply(503, b"<html>unavailable</html>"))
    outcome = ingest("azure")
    assert outcome.status == "failed"
    assert outcome.message.startswith("azure: ") and ("503" in outcome.message or "retries" in outcome.message)
    assert query("select count(*) from raw.fetch_log where source = 'azure' and status = 'ok'") == [(0,)]
    assert raw_rows("azure") == []
    assert ingest("aws").status == "ok"


def test_azure_next_page_link_to_another_host_is_refused(apis):
    page = json.loads(fixture_bytes("gpu/azure/retail_prices_page-1.json"))
    page["NextPageLink"] = "https://prices.example.invalid/api/retail/prices?$skip=30"
    apis.route(routes.azure_page_paths(apis)[0], Reply(200, json.dumps(page).encode()))
    outcome = ingest("azure")
    assert outcome.status == "failed" and "another host" in outcome.message


def test_azure_listing_without_a_usable_price_fails_loudly(apis):
    page = json.loads(fixture_bytes("gpu/azure/retail_prices_page-1.json"))
    page.update(Items=[item for item in page["Items"] if "Windows" in item["productName"]], NextPageLink=None)
    apis.route(routes.azure_page_paths(apis)[0], Reply(200, json.dumps(page).encode()))
    outcome = ingest("azure")
    assert outcome.status == "failed" and "no Linux consumption price" in outcome.message


def test_azure_full_page_without_next_page_link_is_followed_with_skip(apis):
    items = [item for number in range(1, routes.AZURE_PAGES + 1)
             for item in json.loads(fixture_bytes(f"gpu/azure/retail_prices_page-{number}.json"))["Items"]]
    full = {"BillingCurrency": "USD", "Items": (items * 2)[:100], "NextPageLink": None, "Count": 100}
    first = routes.azure_page_paths(apis)[0]
    apis.route(first, Reply(200, json.dumps(full).encode()))
    apis.route(f"{first}&$skip=100", Reply(200, json.dumps({"Items": [], "NextPageLink": None, "Count": 0}).encode()))
    outcome = ingest("azure")
    assert outcome.status == "ok", outcome.message
    assert apis.hits("/azure/api/retail/prices") == 2 and len(outcome.payloads) == 1


# --- keyed sources --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source_id", ["gcp", "lambda", "runpod", "vast"])
def test_keyed_source_without_its_key_is_skipped_not_failed(apis, source_id):
    outcome = ingest(source_id)
    assert outcome.status in ("skipped", "bundled") and outcome.status != "failed"
    assert api_key_variable(source_id) in outcome.message
    assert query("select status from raw.fetch_log where source = ?", source_id) == [("skipped",)]
    assert apis.requests == []


def test_keyed_sources_fetch_with_their_key_and_never_store_it(apis, with_keys):
    for source_id in KEYS:
        outcome = ingest(source_id)
        assert outcome.status == "ok", (source_id, outcome.message)
    settings = Settings.from_env()
    stored = json.dumps(query("select * from raw.fetch_log"), default=str)
    stored += json.dumps(query("select * from raw.payloads"), default=str)
    stored += json.dumps(query("select * from raw.quarantine"), default=str)
    landed = list(settings.landing_dir.rglob("*"))
    stored += " ".join(str(path) for path in landed)
    stored += b" ".join(path.read_bytes() for path in landed if path.is_file()).decode("utf-8", "replace")
    for key in KEYS.values():
        assert key not in stored
        assert not [path for _, path, _ in apis.requests if key in path], "keys never go into URLs"
    sent = {path.split("/")[1]: headers for _, path, headers in apis.requests}
    assert sent["gcp"]["X-Goog-Api-Key"] == KEYS["gcp"]
    assert sent["runpod"]["Authorization"] == f"Bearer {KEYS['runpod']}"
    assert sent["vast"]["Authorization"] == f"Bearer {KEYS['vast']}"
    assert sent["lambda"]["Authorization"].startswith("Basic ")


def test_a_keyed_source_error_never_shows_the_key(apis, with_keys):
    apis.route("/lambda/api/v1/instance-types", Reply(401, b'{"error": "invalid api key"}'))
    outcome = ingest("lambda")
    assert outcome.status == "failed" and "401" in outcome.message
    assert KEYS["lambda"] not in outcome.message
    assert KEYS["lambda"] not in json.dumps(query("select * from raw.fetch_log"), default=str)


def test_gcp_pages_with_page_token_and_keeps_per_gpu_prices(apis, with_keys):
    outcome = ingest("gcp")
    assert outcome.status == "ok", outcome.message
    assert [path for _, path, _ in apis.requests] == routes.gcp_page_paths(apis)
    assert len(outcome.payloads) == 2, "the page without a GPU SKU is not landed"
    rows = raw_rows("gcp")
    h100 = rows_where(rows, gpu_name="Nvidia H100 80GB GPU", region="us-central1")
    assert {(row["pricing_type"], row["usd_per_gpu_hour"]) for row in h100} == {
        ("on_demand", Decimal("4.200760")), ("spot", Decimal("2.992600"))}
    assert {(row["instance_type"], row["gpu_count"]) for row in rows} == {(None, 1)}
    assert {row["gpu_name"] for row in rows} >= {"H200 141GB GPU", "A4 Nvidia B200 (1 gpu slice)"}


def test_gcp_5xx_mid_pagination_fails_gcp_with_a_clear_message(apis, with_keys):
    apis.route(routes.gcp_page_paths(apis)[2], Reply(500, b"backend error"))
    outcome = ingest("gcp")
    assert outcome.status == "failed" and outcome.message.startswith("gcp: ")
    assert "500" in outcome.message or "retries" in outcome.message
    assert KEYS["gcp"] not in outcome.message
    assert raw_rows("gcp") == []


def test_lambda_prices_are_cents_per_instance_hour_and_empty_capacity_keeps_the_type():
    rows = parse_fixture("lambda", "gpu/lambda/instance-types.json")
    h100 = rows_where(rows, instance_type="gpu_8x_h100_sxm5")
    assert [(row["region"], row["usd_per_hour"], row["usd_per_gpu_hour"], row["gpu_count"]) for row in h100] == [
        ("us-east-1", Decimal("31.92"), Decimal("3.99"), 8)]
    assert h100[0]["gpu_name"] == "H100 (80 GB SXM5)"
    b200 = rows_where(rows, instance_type="gpu_8x_b200_sxm6")
    assert [(row["region"], row["usd_per_hour"]) for row in b200] == [(None, Decimal("53.52"))]


def test_runpod_secure_and_community_are_separate_offers_and_zero_is_not_offered():
    rows = parse_fixture("runpod", "gpu/runpod/gpuTypes.json")
    h100 = rows_where(rows, instance_type="NVIDIA H100 80GB HBM3")
    assert {(row["region"], row["pricing_type"], row["usd_per_gpu_hour"]) for row in h100} == {
        ("secure", "on_demand", Decimal("3.49")), ("community", "on_demand", Decimal("2.69"))}
    a100_40 = rows_where(rows, instance_type="NVIDIA A100-SXM4-40GB")
    assert [row["region"] for row in a100_40] == ["community"]  # securePrice 0 = not offered
    assert not rows_where(rows, instance_type="unknown")
    quarantined = SOURCES["runpod"].parse(Payload("gpuTypes.json", fixture_bytes("gpu/runpod/gpuTypes.json"),
                                                  "live")).rejects
    assert {r.rule for r in quarantined} == {"unmapped_gpu"}
    assert {"RTX 4090", "RTX PRO 6000 MaxQ"} <= {r.row["gpu_name"] for r in quarantined}
    spot_field = json.dumps({"data": {"gpuTypes": [{"id": "NVIDIA B200", "displayName": "B200",
                                                    "securePrice": 6.79, "secureSpotPrice": 3.59}]}}).encode()
    spot = SOURCES["runpod"].parse(Payload("gpuTypes.json", spot_field, "live")).rows
    assert [(row["region"], row["pricing_type"]) for row in spot] == [("secure", "on_demand"), ("secure", "spot")]


def test_vast_stores_min_p25_median_per_gpu_model_and_count_and_names_a100_by_memory(apis, with_keys):
    outcome = ingest("vast")
    assert outcome.status == "ok", outcome.message
    assert len(outcome.payloads) == len(DEFAULT_GPU_NAMES)
    rows = raw_rows("vast")
    names = {row["gpu_name"] for row in rows}
    assert {"A100-40GB", "A100-80GB"} <= names and not names & {"A100 SXM4", "A100 PCIE"}
    h100 = rows_where(rows, gpu_name="H100 SXM", gpu_count=1)
    stats = {row["instance_type"].removeprefix("H100 SXM "): row["usd_per_hour"] for row in h100}
    offers = sorted(Decimal(str(offer["dph_total"])) for offer in
                    json.loads(fixture_bytes("gpu/vast/bundles_h100_sxm.json"))["offers"] if offer["num_gpus"] == 1)
    assert stats["(min of offers)"] == offers[0].quantize(Decimal("0.000001"))
    assert stats["(min of offers)"] <= stats["(p25 of offers)"] <= stats["(median of offers)"]
    groups = {(row["instance_type"].split(" (")[0], row["gpu_name"], row["gpu_count"]) for row in rows}
    assert len(rows) == 3 * len(groups)
    assert query("select count(distinct observed_at) from raw.fetch_log where source = 'vast' and status = 'ok'"
                 ) == [(1,)]
