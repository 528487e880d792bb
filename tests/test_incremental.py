"""Incremental dbt builds give the same marts as `dbt build --full-refresh` (issue 7).

Real bundled payloads go through the real loader (change-only storage) in three steps: a first build, then a
payload that lands in the past (a backfill), a new newest snapshot and a new GPU snapshot, then the newest
payload fetched again a day later. After the incremental builds every mart must equal a full rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.dbt_resource import dbt_executable
from pipelines.ingest import load_payload
from pipelines.settings import Settings
from pipelines.sources.gpu_trackers import GpuTrackersSource
from pipelines.sources.litellm import LiteLLMSource
from pipelines.sources.skypilot import SkyPilotSource
from tests.conftest import hand_over_dbt_parse

# slow: dbt builds of its own
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DBT = dbt_executable()


def bundled(source, name_part: str):
    return [payload for payload in source.bundled() if name_part in payload.name
            or name_part in str(payload.observed_at)]


def dbt_build(database: Path, target: Path, *flags: str, data_tests: bool = False) -> None:
    """`dbt build` of the models; the data tests only where asked (they check the data, not how it was built: the
    session's build runs them all, and the comparison with a full rebuild is this module's test)."""
    skipped = ["unit_test"] if data_tests else ["unit_test", "test"]
    hand_over_dbt_parse(database, target)
    result = subprocess.run(
        [str(DBT), "build", "--exclude-resource-type", *skipped, "--project-dir", ".", "--profiles-dir", ".",
         "--target-path", str(target), *flags],
        cwd=ROOT / "dbt_project", env={**os.environ, "MARGINS_WORK_DB": str(database)},
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Unable to do partial parsing" not in result.stdout


def marts(connection: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in connection.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE'"
        " and table_name <> 'source_status' order by 1").fetchall()]


def table_digest(connection: duckdb.DuckDBPyConnection, catalog: str, table: str) -> tuple:
    """A digest of a table's rows as a multiset (row order does not count): equal digests, equal rows. One scan,
    where `except all` both ways sorts the largest marts twice."""
    return connection.execute(f"select count(*), sum(hash(t)::hugeint), bit_xor(hash(t)) "
                              f"from {catalog}.marts.{table} as t").fetchone()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    settings = Settings.from_env(data_dir=root / "warehouse", offline=True)
    target = root / "target"
    litellm, trackers, skypilot = LiteLLMSource(), GpuTrackersSource(), SkyPilotSource()

    first = [(trackers, payload) for payload in trackers.bundled()] + [
        (litellm, payload) for payload in bundled(litellm, "history/")]
    for source, payload in first:
        assert load_payload(source, settings, payload, "first").status == "ok"
    dbt_build(settings.working_db, target)

    past, newest = bundled(litellm, "2025-06-02")[0], bundled(litellm, "2026-11-20")[0]
    for source, payload in [(litellm, past), (litellm, newest), (skypilot, bundled(skypilot, "aws/vms.csv")[0])]:
        assert load_payload(source, settings, payload, "second").status == "ok"
    dbt_build(settings.working_db, target)
    with duckdb.connect(str(settings.working_db), read_only=True) as connection:
        windows = dict(connection.execute(
            "select model, rebuilt_from from intermediate.incremental_watermarks").fetchall())

    refetched = replace(newest, observed_at=newest.observed_at + timedelta(days=1))
    assert load_payload(litellm, settings, refetched, "third").status == "ok"
    dbt_build(settings.working_db, target, data_tests=True)  # the incremental marts also pass every data test
    tested_windows = window_conditions_of_tests(settings.working_db, target)

    full = root / "full" / "margins.duckdb"  # the catalog name the dbt profile's parse expects
    full.parent.mkdir()
    shutil.copyfile(settings.working_db, full)
    dbt_build(full, target, "--full-refresh")
    return settings.working_db, full, windows, tested_windows


def window_conditions_of_tests(database: Path, target: Path) -> dict[str, tuple[str, str]]:
    """Per incremental mart with a not-null test: the window condition its last build wrote into the test, and
    the one its watermark and its window grain (the model's meta, dbt's manifest) call for."""
    with duckdb.connect(str(database), read_only=True) as connection:
        watermarks = connection.execute(
            "select model, rebuilt_from from intermediate.incremental_watermarks").fetchall()
    grains = {node["alias"]: node["config"]["meta"].get("window_grain", "day")
              for node in json.loads((target / "manifest.json").read_text())["nodes"].values()
              if node["resource_type"] == "model"}
    found = {}
    for model, rebuilt_from in watermarks:
        grain = grains[model]
        tests = list(target.glob(f"run/inference_margins/**/not_null_columns_{model}.sql"))
        if tests:
            written = tests[0].read_text()
            start = written.split(" where ", 1)[1].split(") dbt_subquery", 1)[0] if " where " in written else ""
            found[model] = (start, f"date_trunc('{grain}', date '{rebuilt_from}')")
    return found


def test_incremental_run_rebuilt_only_a_window(built) -> None:
    incremental, _, windows, _ = built
    # the past payload (2025-06-02) lands after a history snapshot of 2025-06-02: rebuilt from the one before it
    assert str(windows["fct_token_prices_daily"]) < "2025-06-02"
    assert str(windows["fct_token_prices_daily"]) > "2024-06-01"
    with duckdb.connect(str(incremental), read_only=True) as connection:
        first_day = connection.execute("select min(price_date) from marts.fct_token_prices_daily").fetchone()[0]
    assert windows["fct_token_prices_daily"] > first_day


def test_incremental_marts_equal_a_full_refresh(built) -> None:
    incremental, full, _, _ = built
    with duckdb.connect() as connection:
        connection.execute(f"attach '{incremental}' as incremental (read_only)")
        connection.execute(f"attach '{full}' as full_refresh (read_only)")
        connection.execute("use incremental")
        tables = marts(connection)
        assert "fct_implied_margins_daily" in tables and "fct_implied_margins_monthly" in tables
        for table in tables:
            if table_digest(connection, "incremental", table) == table_digest(connection, "full_refresh", table):
                continue   # the same rows (as a multiset); else count what differs, for the message
            rows = connection.execute(f"select count(*) from incremental.marts.{table}").fetchone()[0]
            only_incremental = connection.execute(
                f"select count(*) from (select * from incremental.marts.{table} "
                f"except all select * from full_refresh.marts.{table})").fetchone()[0]
            only_full = connection.execute(
                f"select count(*) from (select * from full_refresh.marts.{table} "
                f"except all select * from incremental.marts.{table})").fetchone()[0]
            assert (table, only_incremental, only_full) == (table, 0, 0), f"{table}: {rows} rows"
        priced_days = connection.execute(
            "select count(distinct price_date) from incremental.marts.fct_implied_margins_daily").fetchone()[0]
    assert priced_days > 100


def test_the_data_tests_of_an_incremental_build_check_its_window_from_a_literal_day(built) -> None:
    """The window's first day is written into the test as a date (DuckDB then skips the older row groups),
    read from the watermark after the model's build."""
    _, _, _, tested_windows = built
    assert {"fct_token_prices_daily", "fct_gpu_prices_daily", "fct_implied_margins_daily"} <= set(tested_windows)
    for model, (written, expected) in tested_windows.items():
        assert written.endswith(expected), (model, written)
        assert "select rebuilt_from" not in written, (model, written)
