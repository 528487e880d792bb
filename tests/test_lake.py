"""The DuckLake publish against a real S3 API (moto on 127.0.0.1): every mart read back from another process,
one snapshot per publish, time travel, a publisher killed midway, wrong credentials, a locked-down reader."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import lake
from pipelines.cli import main
from tests.s3_server import S3Server

MARGINS = str(Path(sys.executable).with_name("margins"))
README = Path(__file__).parents[1] / "README.md"
SAMPLE_ROWS = 300


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        yield server


# The small warehouse's daily marts hold days of these months only (the bundled history has days in four of them,
# each side of the new year). Each month of a daily mart is a partition, a file to upload to the S3 emulator: a
# publish uploads 65 objects instead of 231 with days from every month of the history.
SAMPLE_MONTHS = f"{lake.PARTITION_COLUMN} >= date '2025-07-01' and {lake.PARTITION_COLUMN} < date '2026-04-01'"


@pytest.fixture(scope="module")
def small_warehouse(session_warehouse, tmp_path_factory) -> Path:
    """A data dir whose margins.duckdb holds a repeatable sample of every mart of the bundled warehouse (the daily
    marts' from SAMPLE_MONTHS)."""
    data_dir = tmp_path_factory.mktemp("small") / "warehouse"
    data_dir.mkdir()
    with duckdb.connect(str(data_dir / "margins.duckdb")) as connection:
        connection.execute(f"attach '{session_warehouse.published_db}' as src (read_only)")  # as the publisher does
        connection.execute("create schema marts")
        for mart, daily in lake._source_marts(connection).items():   # daily: the marts the lake partitions by month
            rows = f"(select * from src.marts.\"{mart}\" where {SAMPLE_MONTHS})" if daily else f'src.marts."{mart}"'
            connection.execute(f'create table marts."{mart}" as select * from {rows} '
                               f"using sample reservoir({SAMPLE_ROWS} rows) repeatable (7)")
    return data_dir


@pytest.fixture
def lake_env(s3, tmp_path, monkeypatch) -> dict[str, str]:
    """A fresh lake (own catalog, own prefix in the bucket) configured in this process's environment."""
    env = s3.lake_env(tmp_path / "catalog" / "lake.sqlite", prefix=tmp_path.name)
    env["HOME"] = str(tmp_path / "home")  # no ~/.duckdb extension cache: extensions must come from the packages
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def publish(data_dir: Path, monkeypatch) -> int:
    monkeypatch.setenv("MARGINS_DATA_DIR", str(data_dir))
    return main(["publish", "--to", "ducklake"])


def lake_sql(env: dict[str, str], query: str) -> subprocess.CompletedProcess:
    """`margins sql --lake` in a second process."""
    return subprocess.run([MARGINS, "sql", "--lake", "--format", "json", query], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


def lake_rows(env: dict[str, str], query: str) -> list[dict]:
    result = lake_sql(env, query)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def marts_of(database: Path) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return [row[0] for row in connection.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()]


def fingerprint_query(marts: list[str], at: str = "") -> str:
    """Rows and an order-independent checksum of every row of every mart, in one query."""
    return " union all ".join(
        f"select '{mart}' as mart, count(*) as n, sum(hash(t))::varchar as checksum from marts.\"{mart}\" as t {at}"
        for mart in marts) + " order by mart"


def duckdb_fingerprints(database: Path) -> dict[str, tuple[int, str]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(fingerprint_query(marts_of(database))).fetchall()
    return {mart: (n, checksum) for mart, n, checksum in rows}


def lake_fingerprints(env: dict[str, str], marts: list[str], at: str = "") -> dict[str, tuple[int, str]]:
    return {row["mart"]: (row["n"], row["checksum"]) for row in lake_rows(env, fingerprint_query(marts, at))}


def snapshots(env: dict[str, str]) -> list[int]:
    return [row["snapshot_id"] for row in lake_rows(env, "select snapshot_id from ducklake_snapshots('lake')")]


def test_bundled_warehouse_published_to_s3_reads_back_identical_from_a_second_process(
        offline_warehouse, lake_env, s3, monkeypatch, capsys):
    database = offline_warehouse.published_db
    expected = duckdb_fingerprints(database)
    assert publish(offline_warehouse.data_dir, monkeypatch) == 0
    assert re.search(rf"snapshot 1: {len(expected)} tables, \d+ files, [\d,]+ bytes written", capsys.readouterr().out)

    assert lake_fingerprints(lake_env, list(expected)) == expected
    keys = s3.objects(Path(lake_env["MARGINS_LAKE_DATA_PATH"]).name)
    assert sum(keys.values()) > 1_000_000
    monthly = {re.search(r"year=(\d+)/month=(\d+)/", key).groups()
               for key in keys if key.split("/")[2] == "fct_gpu_market_daily"}
    assert len(monthly) > 24, "the daily marts are partitioned by month"
    assert snapshots(lake_env) == [0, 1], "one publish, one snapshot"


def test_each_publish_is_one_snapshot_and_time_travel_reads_the_earlier_one(
        small_warehouse, lake_env, tmp_path, monkeypatch):
    first = duckdb_fingerprints(small_warehouse / "margins.duckdb")
    assert publish(small_warehouse, monkeypatch) == 0

    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second_db = second_dir / "margins.duckdb"
    second_db.write_bytes((small_warehouse / "margins.duckdb").read_bytes())
    with duckdb.connect(str(second_db)) as connection:
        connection.execute("delete from marts.fct_gpu_market_daily where price_date < date '2026-01-01'")
        connection.execute("drop table marts.unmapped_gpu_aliases")
    second = duckdb_fingerprints(second_db)
    assert second["fct_gpu_market_daily"] != first["fct_gpu_market_daily"]
    assert publish(second_dir, monkeypatch) == 0

    assert snapshots(lake_env) == [0, 1, 2]
    assert lake_fingerprints(lake_env, list(second)) == second
    assert lake_fingerprints(lake_env, list(first), at="at (version => 1)") == first
    missing = lake_sql(lake_env, "select count(*) from marts.unmapped_gpu_aliases")
    assert missing.returncode == 1 and "unmapped_gpu_aliases" in missing.stderr


def test_a_publisher_killed_midway_leaves_the_previous_snapshot_readable(
        small_warehouse, offline_warehouse, lake_env, s3, monkeypatch):
    before = duckdb_fingerprints(small_warehouse / "margins.duckdb")
    assert publish(small_warehouse, monkeypatch) == 0
    prefix = Path(lake_env["MARGINS_LAKE_DATA_PATH"]).name
    objects_before = s3.objects(prefix)

    # The bundled warehouse takes seconds to publish: kill -9 once a partitioned mart's files are uploaded.
    publisher = subprocess.Popen([MARGINS, "publish", "--to", "ducklake"], stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "MARGINS_DATA_DIR": str(offline_warehouse.data_dir)})
    for line in publisher.stderr:
        if "marts.fct_gpu_prices_daily:" in line:
            publisher.send_signal(signal.SIGKILL)
            break
    publisher.wait(timeout=60)
    publisher.stderr.close()
    assert publisher.returncode == -signal.SIGKILL, "the publisher finished before it could be killed"

    orphans = set(s3.objects(prefix)) - set(objects_before)
    assert any("/fct_gpu_prices_daily/" in key for key in orphans), "the killed publish had written files"
    assert snapshots(lake_env) == [0, 1]
    assert lake_fingerprints(lake_env, list(before)) == before

    assert publish(small_warehouse, monkeypatch) == 0, "the next publish is not blocked by the killed one"
    assert snapshots(lake_env) == [0, 1, 2]


def test_a_wrong_credential_is_a_clear_error_naming_the_bucket(small_warehouse, lake_env, s3, monkeypatch, capsys):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    assert publish(small_warehouse, monkeypatch) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"margins: DuckLake publish: bucket {s3.bucket} refused the credentials")
    assert "not-the-secret" not in error and s3.key_id not in error

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret)
    assert publish(small_warehouse, monkeypatch) == 0
    reader = lake_sql({**lake_env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"},
                      "select sum(usd_per_gpu_hour) from marts.fct_gpu_prices_daily")
    assert reader.returncode == 1
    assert f"DuckLake read: bucket {s3.bucket} refused the credentials" in reader.stderr


def test_the_lake_reader_is_read_only_and_reaches_no_other_file(small_warehouse, lake_env, monkeypatch):
    assert publish(small_warehouse, monkeypatch) == 0
    assert lake_rows(lake_env, "select count(*) as n from marts.dim_gpus")[0]["n"] > 0
    refused = {
        "copy (select 1 as x) to '/tmp/margins-lake-escape.csv'": "Permission Error",
        "select * from read_csv('/etc/passwd')": "Permission Error",
        "create table marts.intruder as select 1 as x": "read-only",
        "set enable_external_access = true": "configuration has been locked",
        f"attach '{small_warehouse / 'margins.duckdb'}' as other": "Permission Error",
    }
    for query, reason in refused.items():
        result = lake_sql(lake_env, query)
        assert result.returncode == 1 and reason in result.stderr, (query, result.stderr)
    assert not Path("/tmp/margins-lake-escape.csv").exists()


def test_a_local_ducklake_file_catalog_and_data_folder_work_the_same(small_warehouse, tmp_path, monkeypatch):
    """No S3: a `.ducklake` catalog (one process at a time) with Parquet in a local folder."""
    env = {"MARGINS_LAKE_CATALOG": str(tmp_path / "margins.ducklake"),
           "MARGINS_LAKE_DATA_PATH": str(tmp_path / "parquet"), "HOME": str(tmp_path / "home")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected = duckdb_fingerprints(small_warehouse / "margins.duckdb")
    assert publish(small_warehouse, monkeypatch) == 0
    assert lake_fingerprints(env, list(expected)) == expected
    assert list((tmp_path / "parquet" / "marts" / "fct_gpu_prices_daily").glob("year=*/month=*/*.parquet"))
    refused = lake_sql(env, "select * from read_csv('/etc/passwd')")
    assert refused.returncode == 1 and "Permission Error" in refused.stderr


def test_extensions_load_from_the_pypi_packages_of_this_duckdb():
    for name in ("httpfs", "ducklake", "sqlite_scanner"):
        path = lake.extension_file(name)
        assert f"/extensions/v{duckdb.__version__}/" in str(path) and "site-packages" in str(path)
    with lake.connect(lake.LakeConfig(catalog="sqlite:/nonexistent/lake.sqlite")) as connection:
        loaded = dict(connection.execute("select extension_name, loaded from duckdb_extensions() "
                                         "where extension_name in ('httpfs', 'ducklake', 'sqlite_scanner')").fetchall())
    assert loaded == {"httpfs": True, "ducklake": True, "sqlite_scanner": True}


def test_lake_settings_come_from_the_environment_and_a_missing_catalog_is_explained(tmp_path, monkeypatch, capsys):
    config = lake.LakeConfig.from_env({"MARGINS_LAKE_CATALOG": "sqlite:rel/lake.sqlite",
                                       "MARGINS_LAKE_DATA_PATH": "s3://bucket/prefix", "MARGINS_S3_USE_SSL": "false",
                                       "MARGINS_S3_ENDPOINT": "127.0.0.1:9000"})
    assert config.catalog == f"sqlite:{Path('rel/lake.sqlite').resolve()}"
    assert (config.data_path, config.bucket(), config.s3_use_ssl) == ("s3://bucket/prefix/", "bucket", False)
    assert lake.LakeConfig.from_env({}) is None
    assert lake.LakeConfig(catalog="postgres:dbname=lake password=hunter2").label == "postgres:dbname=lake password=***"

    monkeypatch.delenv("MARGINS_LAKE_CATALOG", raising=False)
    assert main(["publish", "--to", "ducklake"]) == 1
    assert "set MARGINS_LAKE_CATALOG" in capsys.readouterr().err
    monkeypatch.setenv("MARGINS_LAKE_CATALOG", f"sqlite:{tmp_path / 'absent.sqlite'}")
    assert main(["sql", "--lake", "select 1"]) == 1
    assert "run `margins publish --to ducklake` first" in capsys.readouterr().err


def test_readme_duckdb_shell_lines_attach_the_lake_read_only(small_warehouse, lake_env, tmp_path, monkeypatch):
    """The README's lines for a plain `duckdb` shell, run in the DuckDB 1.5.5 CLI against the published lake."""
    assert publish(small_warehouse, monkeypatch) == 0
    block = re.search(r"```duckdb\n(.*?)```", README.read_text(), flags=re.S).group(1)
    site_packages = Path(lake.extension_file("httpfs")).parents[3]
    script = (block.replace("<site-packages>", str(site_packages))
              .replace("<AWS_ACCESS_KEY_ID>", lake_env["AWS_ACCESS_KEY_ID"])
              .replace("<AWS_SECRET_ACCESS_KEY>", lake_env["AWS_SECRET_ACCESS_KEY"])
              .replace("<host:port>", lake_env["MARGINS_S3_ENDPOINT"])
              .replace("/shared/margins/lake.sqlite", lake_env["MARGINS_LAKE_CATALOG"].removeprefix("sqlite:")))
    script = re.sub(r"(?m)^--.*\n", "", script)
    query = "select count(*) as n from marts.fct_gpu_market_daily at (version => 1);"
    shell = subprocess.run([str(Path(sys.executable).with_name("duckdb")), "-csv", "-noheader", "-c", script + query],
                           capture_output=True, text=True, timeout=120, env={**os.environ, **lake_env})
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split()[-1] == str(SAMPLE_ROWS), shell.stdout


def test_dagster_materializes_the_lake_after_the_duckdb_publish(small_warehouse, lake_env, s3, monkeypatch):
    from dagster import AssetSelection, materialize

    from pipelines.assets.constants import LAKE_KEY, PUBLISHED_KEY
    from pipelines.assets.lake import published_ducklake
    from pipelines.definitions import defs
    from pipelines.jobs import refresh_job_selection
    from pipelines.resources import MarginsSettings
    from pipelines.runs import lake_outcome

    resources = {"settings": MarginsSettings(data_dir=str(small_warehouse))}
    result = materialize([published_ducklake], resources=resources)
    assert result.success
    metadata = result.asset_materializations_for_node("published__ducklake")[0].metadata
    assert metadata["snapshot_id"].value == 1 and metadata["bytes_written"].value > 0
    assert snapshots(lake_env) == [0, 1]
    assert lake_outcome(result).startswith(f"DuckLake {lake_env['MARGINS_LAKE_CATALOG']}: snapshot 1, ")

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    failed = materialize([published_ducklake], resources=resources, raise_on_error=False)
    assert not failed.success
    assert lake_outcome(failed).startswith("margins: published the DuckDB warehouse, but the DuckLake publish failed")
    assert f"bucket {s3.bucket} refused" in lake_outcome(failed)
    assert snapshots(lake_env) == [0, 1]

    graph = defs.resolve_asset_graph()
    assert PUBLISHED_KEY in graph.get(LAKE_KEY).parent_keys
    with_lake = refresh_job_selection(lake_configured=True).resolve(graph)
    without = refresh_job_selection(lake_configured=False).resolve(graph)
    assert LAKE_KEY in with_lake and LAKE_KEY not in without
    assert with_lake - without == {LAKE_KEY}
    assert isinstance(refresh_job_selection(True), AssetSelection)


def test_documented_shared_instance_passes_dagsters_instance_schema():
    """docs/dagster.shared.yaml is documented, not run (no Postgres here): only its schema is checked."""
    from dagster._core.instance.config import dagster_instance_config

    config, _ = dagster_instance_config(str(Path(__file__).parents[1] / "docs"), "dagster.shared.yaml")
    assert "postgres_db" in config["storage"]["postgres"]
    assert config["concurrency"]["pools"]["default_limit"] == 1
