"""The Dagster UI: a real dagster-webserver on 127.0.0.1, asked through its GraphQL API."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

# slow: a Dagster webserver
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
QUERY = """{ assetNodes { assetKey { path } dependencyKeys { path } groupName kinds description
  owners { ... on TeamAssetOwner { team } }
  assetChecksOrError { ... on AssetChecks { checks { name } } } } }"""
MARTS = ("fct_gpu_prices_daily", "fct_gpu_market_daily", "fct_token_prices_daily", "fct_implied_margins_daily",
         "fct_lifetime_economics", "source_status", "dim_models")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def start_webserver(home: Path) -> Iterator[str]:
    """A real dagster-webserver on a free 127.0.0.1 port with the project's workspace; yields its URL."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environment = {**os.environ, "DAGSTER_HOME": str(home)}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml", "-h", "127.0.0.1",
         "-p", str(port)], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        else:
            raise RuntimeError(f"webserver did not start: {process.stderr.read1(4000) if process.stderr else ''}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    with start_webserver(tmp_path_factory.mktemp("dagster_home")) as url:
        yield url


@pytest.fixture(scope="module")
def nodes(webserver) -> dict[tuple[str, ...], dict]:
    response = requests.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=60)
    response.raise_for_status()
    return {tuple(node["assetKey"]["path"]): node for node in response.json()["data"]["assetNodes"]}


def ancestors(nodes, key) -> set[tuple[str, ...]]:
    seen, frontier = set(), [key]
    while frontier:
        for parent in nodes[frontier.pop()]["dependencyKeys"]:
            path = tuple(parent["path"])
            if path not in seen:
                seen.add(path)
                frontier.append(path)
    return seen


def test_every_mart_is_downstream_of_its_sources(nodes):
    for mart in MARTS:
        upstream = ancestors(nodes, ("marts", mart))
        assert {path for path in upstream if path[0] == "sources"}, f"{mart} has no source asset upstream"
    gpu_market = ancestors(nodes, ("marts", "fct_gpu_market_daily"))
    assert {("sources", "skypilot"), ("sources", "gpu_trackers")} <= gpu_market
    margins = ancestors(nodes, ("marts", "fct_implied_margins_daily"))
    assert {("sources", "skypilot"), ("sources", "litellm"), ("sources", "openrouter")} <= margins


def test_assets_are_grouped_described_and_owned(nodes):
    groups = {node["groupName"] for node in nodes.values()}
    assert {"sources", "staging", "intermediate", "marts", "reports"} <= groups
    for key, node in nodes.items():
        assert node["description"], f"{key} has no description"
        assert node["owners"], f"{key} has no owner"
        assert node["kinds"], f"{key} has no kinds"


def test_checks_are_attached(nodes):
    source_checks = {check["name"] for check in nodes[("sources", "litellm")]["assetChecksOrError"]["checks"]}
    assert {"batch_validation", "live_fetch"} <= source_checks
    mart_checks = nodes[("marts", "fct_gpu_market_daily")]["assetChecksOrError"]["checks"]
    assert any(check["name"].startswith("unique_combination_of_columns") for check in mart_checks)
