"""`python -m bench.lake`: publish a built warehouse as a DuckLake on a local S3 API (moto on 127.0.0.1) and
time README query 1 from the lake and from the DuckDB file.

Uses the published warehouse of $MARGINS_DATA_DIR (default ./warehouse, e.g. after `make run`); the lake goes to
a temp dir and a fresh moto server, both removed at the end.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines import lake
from pipelines.settings import Settings
from tests.s3_server import S3Server

README = Path(__file__).parents[1] / "README.md"
RUNS = 5


def readme_query_1() -> str:
    return re.findall(r"```sql\n(.*?)```", README.read_text(), flags=re.S)[0]


def timed(connection: duckdb.DuckDBPyConnection, query: str) -> tuple[float, list[float], int]:
    """(first run, later runs) in ms, and the row count."""
    times, rows = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        rows = len(connection.execute(query).fetchall())
        times.append((time.perf_counter() - started) * 1000)
    return times[0], times[1:], rows


def main() -> int:
    settings = Settings.from_env()
    if not settings.published_db.exists():
        print(f"bench.lake: no published warehouse at {settings.published_db}: run `make run` first", file=sys.stderr)
        return 1
    query = readme_query_1()
    with tempfile.TemporaryDirectory(prefix="margins-lake-bench-") as temp, S3Server() as s3:
        env = s3.lake_env(Path(temp) / "lake.sqlite", prefix="bench")
        os.environ.update(env)
        config = lake.require_config()
        result = lake.publish(settings.published_db, config)
        stored = sum(s3.objects("bench").values())
        catalog_bytes = (Path(temp) / "lake.sqlite").stat().st_size

        started = time.perf_counter()
        with duckdb.connect(str(settings.published_db), read_only=True) as connection:
            open_file_ms = (time.perf_counter() - started) * 1000
            file_first, file_rest, file_rows = timed(connection, query)
        started = time.perf_counter()
        with lake.connect_reader(config) as connection:
            attach_ms = (time.perf_counter() - started) * 1000
            lake_first, lake_rest, lake_rows = timed(connection, query)
    assert file_rows == lake_rows, (file_rows, lake_rows)
    print(f"warehouse: {settings.published_db} ({settings.published_db.stat().st_size:,} bytes, all schemas)")
    print(f"publish: {result.seconds:.1f} s, {len(result.tables)} tables, {sum(n for _, n in result.tables):,} rows, "
          f"{result.files_written} Parquet files, {result.bytes_written:,} bytes written "
          f"({stored:,} bytes in the bucket), SQLite catalog {catalog_bytes:,} bytes")
    print(f"README query 1 ({file_rows} rows), ms: first run / median of the next {RUNS - 1}")
    print(f"  DuckDB file: open {open_file_ms:.0f}, query {file_first:.1f} / {statistics.median(file_rest):.1f}")
    print(f"  DuckLake on S3 (moto, 127.0.0.1): connect + load extensions + attach {attach_ms:.0f}, "
          f"query {lake_first:.1f} / {statistics.median(lake_rest):.1f}")
    print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
