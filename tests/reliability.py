"""The fault suite: every live source survives bad input and network faults without losing data.

Each fault is served by a real HTTP server on 127.0.0.1 from real captured payloads, corrupted in one
specific way, and runs through the real source step (fetch -> land -> parse -> validate -> load). For each
it records the outcome, the observation rows lost (must be 0) and whether the price marts changed (must be
no: a rebuild after the faults gives the same marts as before them). `make reliability` prints the table;
tests/test_faults.py asserts it.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.http import HttpClient, HttpConfig
from pipelines.ingest import ingest_source
from pipelines.settings import Settings
from pipelines.sources import SOURCES
from tests.http_server import FixtureServer, Reply, fixture_bytes

LITELLM = "/litellm/model_prices.json"
OPENROUTER = "/openrouter/models"
SKYPILOT = "/skypilot/v8"
FAST_HTTP = HttpConfig(connect_timeout=1, read_timeout=1, retries=2, backoff_factor=0.01, backoff_jitter=0,
                       backoff_max=0.05, max_bytes=8_000_000)
PRICE_MARTS = ("fct_gpu_prices_daily", "fct_gpu_market_daily", "fct_token_prices_daily", "fct_implied_margins_daily",
               "fct_lifetime_economics", "dim_models", "dim_throughput_profiles")


@dataclass(frozen=True)
class Fault:
    name: str
    source: str
    replies: Callable[[], list[Reply]] | None   # None: the URL itself is the fault
    expected: str                                # outcome status the source must report
    url: str | None = None


@dataclass(frozen=True)
class FaultResult:
    fault: str
    source: str
    outcome: str
    message: str
    rows_lost: int
    passed: bool
    marts: str | None = None    # measured by the fault itself (round-two scenarios); else the suite's rebuild


def _litellm() -> bytes:
    return fixture_bytes("tokens/litellm_model_prices_2026-11-20.json.gz")


def _openrouter() -> bytes:
    return fixture_bytes("tokens/openrouter_models_2026-08-19.json.gz")


def _aws_csv() -> bytes:
    return fixture_bytes("gpu/skypilot_v8_aws_vms_gpu.csv")


def _with_litellm_entry(extra: str) -> bytes:
    text = _litellm().decode()
    return ("{\n" + extra + ",\n" + text.lstrip()[1:]).encode()


def _with_openrouter_model(model: dict) -> bytes:
    document = json.loads(_openrouter())
    document["data"].insert(0, model)
    return json.dumps(document).encode()


def _litellm_entries(keep: Callable[[str, dict], bool], change: Callable[[dict], None] | None = None) -> bytes:
    """The real LiteLLM file with only the entries ``keep`` accepts, each changed by ``change``."""
    document = json.loads(_litellm(), parse_float=Decimal)
    entries = {key: entry for key, entry in document.items() if keep(key, entry)}
    for entry in entries.values():
        if change:
            change(entry)
    return json.dumps(entries, default=str, indent=4).encode()


def _first_chat_models(count: int) -> Callable[[str, dict], bool]:
    chosen: list[str] = []

    def keep(key: str, entry: dict) -> bool:
        if len(chosen) < count and isinstance(entry, dict) and entry.get("mode") == "chat" \
                and "input_cost_per_token" in entry:
            chosen.append(key)
            return True
        return False
    return keep


def _halve_prices(entry: dict) -> None:
    if isinstance(entry, dict):
        for field_name, value in list(entry.items()):
            if "cost_per_token" in field_name and isinstance(value, Decimal | int) and not isinstance(value, bool):
                entry[field_name] = value / 2


def _every_entry(key: str, entry: dict) -> bool:
    return True


DEEP_JSON = ('"deeply-nested": {"litellm_provider": "openai", "mode": "chat", "x": '
             + "[" * 100_000 + "]" * 100_000 + "}")


FAULTS = (
    Fault("connection refused", "litellm", None, "failed", url="http://127.0.0.1:1/prices.json"),
    Fault("DNS failure", "litellm", None, "failed", url="http://no-such-host.invalid/prices.json"),
    Fault("connect timeout", "openrouter", None, "failed", url="BACKLOG"),
    Fault("read timeout", "openrouter", lambda: [Reply(200, _openrouter(), delay_s=3)], "failed"),
    Fault("429 with Retry-After, then success", "litellm",
          lambda: [Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, _litellm())], "ok"),
    Fault("5xx then success", "openrouter", lambda: [Reply(502), Reply(503), Reply(200, _openrouter())], "ok"),
    Fault("5xx until retries run out", "openrouter", lambda: [Reply(500, b"internal error")], "failed"),
    Fault("truncated body", "litellm", lambda: [Reply(200, _litellm(), truncate_to=100_000)], "failed"),
    Fault("HTML error page with status 200", "openrouter",
          lambda: [Reply(200, b"<!DOCTYPE html><html><body>Service unavailable</body></html>")], "rejected"),
    Fault("invalid JSON", "litellm", lambda: [Reply(200, _litellm()[:-5000])], "rejected"),
    Fault("invalid CSV", "skypilot", lambda: [Reply(200, b"\x00\x01\xffnot,a\ncsv\x00")], "rejected"),
    Fault("empty result", "openrouter", lambda: [Reply(200, b'{"data": [], "total_count": 0}')], "rejected"),
    Fault("renamed field", "litellm",
          lambda: [Reply(200, _litellm().replace(b'"litellm_provider"', b'"provider_name"'))], "rejected"),
    Fault("missing field", "skypilot",
          lambda: [Reply(200, _aws_csv().replace(b"SpotPrice", b"SpotCost", 1))], "rejected"),
    Fault("numbers as strings", "litellm",
          lambda: [Reply(200, _with_litellm_entry(
              '"example-strings": {"litellm_provider": "openai", "mode": "chat", '
              '"input_cost_per_token": "2.5e-06", "output_cost_per_token": "1e-05"}'))], "ok"),
    Fault("duplicate keys (quarantined, neither loaded)", "litellm",
          lambda: [Reply(200, _with_litellm_entry(
              '"gpt-4o": {"litellm_provider": "openai", "mode": "chat", '
              '"input_cost_per_token": 9.9e-05, "output_cost_per_token": 9.9e-05}'))], "ok"),
    Fault("absurd price (per-token vs per-1M slip)", "litellm",
          lambda: [Reply(200, _with_litellm_entry(
              '"example-slip": {"litellm_provider": "openai", "mode": "chat", '
              '"input_cost_per_token": 2.5, "output_cost_per_token": 10}'))], "ok"),
    Fault("response over the size cap", "litellm", lambda: [Reply(200, b" " * 9_000_000 + _litellm())], "failed"),
    Fault("gzip bomb", "openrouter",
          lambda: [Reply(200, gzip.compress(b"{" + b" " * 60_000_000 + b"}"), {"Content-Encoding": "gzip"})],
          "failed"),
    Fault("unknown GPU spelling", "skypilot",
          lambda: [Reply(200, _aws_csv().replace(b",H100,", b",Zorp-9000,"))], "ok"),
    # round two (issue 14): one bad value is a row reject or rejects its payload, never the refresh
    Fault("price that overflows (1e308, quarantined)", "litellm",
          lambda: [Reply(200, _with_litellm_entry(
              '"example-overflow": {"litellm_provider": "openai", "mode": "chat", '
              '"input_cost_per_token": 1e308, "output_cost_per_token": 1e308}'))], "ok"),
    Fault("invalid unicode escape in a key (quarantined)", "litellm",
          lambda: [Reply(200, _with_litellm_entry(
              '"example-\\ud800-key": {"litellm_provider": "openai", "mode": "chat", '
              '"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}'))], "ok"),
    Fault("integer overflow on load (quarantined)", "litellm",
          lambda: [Reply(200, _with_litellm_entry(
              '"example-context": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 1e30, '
              '"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}'))], "ok"),
    Fault("timestamp out of range (quarantined)", "openrouter",
          lambda: [Reply(200, _with_openrouter_model(
              {"id": "example/out-of-range", "context_length": 8192, "expiration_date": 1e20,
               "pricing": {"prompt": "0.000001", "completion": "0.000002"}}))], "ok"),
    Fault("JSON nested 100,000 deep", "litellm", lambda: [Reply(200, _with_litellm_entry(DEEP_JSON))], "rejected"),
    Fault("collapsed file (valid JSON, 7 entries)", "litellm",
          lambda: [Reply(200, _litellm_entries(_first_chat_models(7)))], "suspect"),
    Fault("every price halved at once", "litellm",
          lambda: [Reply(200, _litellm_entries(_every_entry, _halve_prices))], "suspect"),
)


def observation_rows(connection: duckdb.DuckDBPyConnection) -> set[tuple]:
    return set(connection.execute("""
        select 'gpu', source, sha256, count(*) from raw.gpu_observations group by all
        union all select 'token', source, sha256, count(*) from raw.token_observations group by all
    """).fetchall())


def mart_fingerprints(database: Path) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {mart: connection.execute(f"select count(*), sum(hash(t)) from marts.{mart} as t").fetchone()
                for mart in PRICE_MARTS}


def run_fault(fault: Fault, server: FixtureServer, settings: Settings) -> FaultResult:
    url = _fault_url(fault, server)
    faulty = Settings(data_dir=settings.data_dir, offline=False, urls={**settings.urls, fault.source: url})
    with duckdb.connect(str(settings.working_db), read_only=True) as connection:
        before = observation_rows(connection)
    outcome = ingest_source(SOURCES[fault.source], faulty, HttpClient(FAST_HTTP), run_id=f"fault:{fault.name}")
    with duckdb.connect(str(settings.working_db), read_only=True) as connection:
        after = observation_rows(connection)
    rows_lost = sum(count for (_, _, _, count) in before - after)
    message = outcome.message or f"{outcome.new_rows} new rows, {outcome.quarantined} quarantined"
    passed = outcome.status == fault.expected and rows_lost == 0 and (
        outcome.status == "ok" or fault.source in (outcome.message or ""))
    return FaultResult(fault.name, fault.source, outcome.status, message, rows_lost, passed)


def _fault_url(fault: Fault, server: FixtureServer) -> str:
    if fault.url == "BACKLOG":
        return f"http://127.0.0.1:{_full_backlog_port()}/models"
    if fault.url:
        return fault.url
    path = {"litellm": LITELLM, "openrouter": OPENROUTER, "skypilot": SKYPILOT}[fault.source]
    server.route(f"{path}/aws/vms.csv" if fault.source == "skypilot" else path, *fault.replies())
    return f"{server.url}{path}"


_BACKLOG_SOCKETS: list[socket.socket] = []


def _full_backlog_port() -> int:
    """A listening socket whose accept queue is full: connecting to it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    _BACKLOG_SOCKETS.append(listener)
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        _BACKLOG_SOCKETS.append(filler)
    return port


def run_suite(data_dir: Path, built: bool = False) -> tuple[list[FaultResult], bool]:
    """Build the bundled warehouse (unless ``built``: ``data_dir`` already holds one, e.g. the tests' copy), run every
    fault, rebuild, and say whether the price marts changed."""
    from pipelines.cli import main as margins
    from tests.reliability_scenarios import FIRST, REST, run_scenarios

    environment = {"MARGINS_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home"),
                   "MARGINS_SKYPILOT_CLOUDS": "aws"}
    with temporary_environment(environment):
        if not built:
            assert margins(["refresh", "--offline"]) == 0, "baseline offline refresh failed"
        settings = Settings.from_env()
        baseline = mart_fingerprints(settings.published_db)
        with FixtureServer() as server:
            results = [run_fault(fault, server, settings) for fault in FAULTS if fault.expected != "ok"]
            assert margins(["refresh", "--offline"]) == 0, "rebuild after the faults failed"
            marts_changed = mart_fingerprints(settings.published_db) != baseline
            # the scenarios land live data, observed today: a warehouse pinned to an earlier as-of day would ignore it
            with temporary_environment({"MARGINS_AS_OF": None}):
                results += run_scenarios(settings, server, FIRST)
                results += [run_fault(fault, server, settings) for fault in FAULTS if fault.expected == "ok"]
                results += run_scenarios(settings, server, REST)
    return results, marts_changed


@contextlib.contextmanager
def temporary_environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    _apply(values)
    try:
        yield
    finally:
        _apply(saved)


def _apply(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def render(results: list[FaultResult], marts_changed: bool) -> str:
    from pipelines.render import render_table

    rows = [[r.fault, r.source, r.outcome, r.rows_lost,
             r.marts or ("no" if not marts_changed or r.outcome == "ok" else "YES"), "pass" if r.passed else "FAIL",
             r.message[:120]] for r in results]
    return render_table(["fault", "source", "outcome", "rows lost", "marts changed", "result", "message"], rows)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="margins-reliability-") as directory:
        results, marts_changed = run_suite(Path(directory))
    print(render(results, marts_changed))
    print("\nRecovered faults (outcome ok) land new data by design; every failure left the price marts unchanged."
          if not marts_changed else "\nPRICE MARTS CHANGED after failed fetches")
    ok = all(r.passed for r in results) and not marts_changed
    print(f"{sum(r.passed for r in results)} passed, {sum(not r.passed for r in results)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
