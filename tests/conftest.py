from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.settings import Settings
from tests.http_server import FixtureServer

# The session warehouse is built as of this day, so results do not depend on the day the suite runs.
SESSION_AS_OF = "2026-11-30"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture
def server():
    with FixtureServer() as fixture_server:
        yield fixture_server


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "warehouse"
    monkeypatch.setenv("MARGINS_DATA_DIR", str(directory))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("MARGINS_OFFLINE", raising=False)
    monkeypatch.delenv("MARGINS_AS_OF", raising=False)  # a live fetch is observed today
    return directory


@pytest.fixture(scope="session")
def offline_warehouse(tmp_path_factory) -> Settings:
    """One full offline refresh (real Dagster run, real dbt build) shared by the read-only tests."""
    root = tmp_path_factory.mktemp("offline")
    patch = pytest.MonkeyPatch()
    patch.setenv("MARGINS_DATA_DIR", str(root / "warehouse"))
    patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    try:
        # the day is an argument, not MARGINS_AS_OF: the variable would leak into every later test's refresh
        assert main(["refresh", "--offline", "--as-of", SESSION_AS_OF]) == 0
        yield Settings.from_env()
    finally:
        patch.undo()


@pytest.fixture
def published(offline_warehouse):
    with duckdb.connect(str(offline_warehouse.published_db), read_only=True) as connection:
        yield connection
