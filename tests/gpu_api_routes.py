"""Routes of the GPU price APIs on the local test server, serving the fixtures in tests/fixtures/gpu/."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from pipelines.settings import api_key_variable
from pipelines.sources import SOURCES
from pipelines.sources.azure import first_page_url
from pipelines.sources.gcp import skus_url
from pipelines.sources.vast import DEFAULT_GPU_NAMES, offers_url
from tests.http_server import FixtureServer, Reply, fixture_bytes

AWS_REGIONS = ("us-east-1", "us-west-2", "ap-northeast-1")
AWS_VERSION_PATH = "/aws/offers/v1.0/aws/AmazonEC2/20250523232744"
AZURE_PAGES = 3
GCP_TOKENS = (None, "CAEQABoFc2t1czE", "CAEQABoFc2t1czI")


def clear_api_keys(patch: pytest.MonkeyPatch) -> None:
    """Unset every source's API key variable (and GITHUB_TOKEN), so a key in the caller's environment never
    reaches a test."""
    for name in (*SOURCES, "github"):
        patch.delenv(api_key_variable(name), raising=False)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def aws_csv_path(region: str) -> str:
    return f"{AWS_VERSION_PATH}/{region}/index.csv"


def route_aws(server: FixtureServer) -> dict[str, str]:
    server.route("/aws/offers/v1.0/aws/AmazonEC2/current/region_index.json",
                 Reply(200, fixture_bytes("gpu/aws/region_index.json")))
    for region in AWS_REGIONS:
        server.route(aws_csv_path(region), Reply(200, fixture_bytes(f"gpu/aws/{region}_index.csv")))
    return {"MARGINS_AWS_URL": f"{server.url}/aws", "MARGINS_AWS_REGIONS": ",".join(AWS_REGIONS)}


def azure_page_paths(server: FixtureServer) -> list[str]:
    """Request paths of the fixture pages: the first page's, then each NextPageLink re-based onto /azure."""
    paths = [path_of(first_page_url(f"{server.url}/azure"))]
    for number in range(1, AZURE_PAGES):
        link = json.loads(fixture_bytes(f"gpu/azure/retail_prices_page-{number}.json"))["NextPageLink"]
        paths.append("/azure" + path_of(link))
    return paths


def route_azure(server: FixtureServer) -> dict[str, str]:
    for number, path in enumerate(azure_page_paths(server), start=1):
        server.route(path, Reply(200, fixture_bytes(f"gpu/azure/retail_prices_page-{number}.json")))
    return {"MARGINS_AZURE_URL": f"{server.url}/azure"}


def gcp_page_paths(server: FixtureServer) -> list[str]:
    return [path_of(skus_url(f"{server.url}/gcp", token)) for token in GCP_TOKENS]


def route_gcp(server: FixtureServer) -> dict[str, str]:
    for number, path in enumerate(gcp_page_paths(server), start=1):
        server.route(path, Reply(200, fixture_bytes(f"gpu/gcp/skus_page-{number}.json")))
    return {"MARGINS_GCP_URL": f"{server.url}/gcp"}


def route_lambda(server: FixtureServer) -> dict[str, str]:
    server.route("/lambda/api/v1/instance-types", Reply(200, fixture_bytes("gpu/lambda/instance-types.json")))
    return {"MARGINS_LAMBDA_URL": f"{server.url}/lambda"}


def route_runpod(server: FixtureServer) -> dict[str, str]:
    server.route("/runpod/graphql", Reply(200, fixture_bytes("gpu/runpod/gpuTypes.json")))
    return {"MARGINS_RUNPOD_URL": f"{server.url}/runpod"}


def vast_query_path(server: FixtureServer, gpu_name: str) -> str:
    return path_of(offers_url(f"{server.url}/vast", gpu_name))


def route_vast(server: FixtureServer) -> dict[str, str]:
    for name in DEFAULT_GPU_NAMES:
        slug = name.lower().replace(" ", "_")
        server.route(vast_query_path(server, name), Reply(200, fixture_bytes(f"gpu/vast/bundles_{slug}.json")))
    return {"MARGINS_VAST_URL": f"{server.url}/vast"}
