"""The five analyst queries of bench/queries.sql, timed: p50 (and max) of repeated runs on one warehouse."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

QUERIES_FILE = Path(__file__).with_name("queries.sql")


@dataclass
class QueryTiming:
    name: str
    p50_ms: float
    max_ms: float
    first_ms: float
    rows: int


def load_queries(path: Path = QUERIES_FILE) -> list[tuple[str, str]]:
    queries: list[tuple[str, str]] = []
    name, lines = None, []
    for line in path.read_text().splitlines():
        if line.startswith("-- name:"):
            if name is not None:
                queries.append((name, "\n".join(lines).strip()))
            name, lines = line.removeprefix("-- name:").strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        queries.append((name, "\n".join(lines).strip()))
    return queries


def time_queries(database: Path, runs: int = 10) -> list[QueryTiming]:
    """Open the warehouse read-only (as `margins sql` does), run each query once cold, then ``runs`` times."""
    timings = []
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("set enable_progress_bar = false")
        for name, sql in load_queries():
            started = time.perf_counter()
            rows = len(connection.execute(sql).fetchall())
            first = (time.perf_counter() - started) * 1000
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                connection.execute(sql).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
            timings.append(QueryTiming(name, statistics.median(samples), max(samples), first, rows))
    return timings
