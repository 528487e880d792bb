"""Round two of the fault suite (issue 14): faults of the warehouse itself, not of one fetch.

Each scenario runs on the suite's built warehouse (real DuckDB files, real Dagster runs, real dbt builds, the local
HTTP server; a real small tmpfs for disk full where this machine lets us mount one) and reports its outcome, the
observation rows lost and whether the marts changed, as rows of `make reliability`'s table.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from pipelines import diskspace
from pipelines.cli import main as margins
from pipelines.http import HttpClient
from pipelines.ingest import ingest_source
from pipelines.landing import file_sha256
from pipelines.recovery import prepare_refresh
from pipelines.settings import Settings
from pipelines.sources import SOURCES
from pipelines.warehouse import publish, writer_lock
from tests.gpu_api_routes import route_azure
from tests.http_server import FixtureServer, Reply
from tests.reliability import (
    FAST_HTTP,
    LITELLM,
    OPENROUTER,
    FaultResult,
    _litellm,
    _openrouter,
    _with_litellm_entry,
    mart_fingerprints,
    observation_rows,
    temporary_environment,
)


def raw_rows(database: Path) -> set[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return observation_rows(connection)


def lost(before: set[tuple], after: set[tuple]) -> int:
    return sum(count for (_, _, _, count) in before - after)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = margins(list(args))
    return code, out.getvalue(), err.getvalue()


def result(fault: str, source: str, outcome: str, message: str, rows_lost: int, marts: str, passed: bool
           ) -> FaultResult:
    return FaultResult(fault, source, outcome, message.replace("\n", " ").strip(), rows_lost,
                       passed and rows_lost == 0, marts)


# ---- the read-only SQL door -------------------------------------------------------------------------------------

def sql_door(settings: Settings, server: FixtureServer) -> FaultResult:
    before = mart_fingerprints(settings.published_db)
    rows = raw_rows(settings.published_db)
    published = str(settings.published_db).replace("'", "''")
    attempts = [f"copy (select 42 as x) to '{published}' (format csv)", "select * from read_csv('/etc/passwd')",
                "install httpfs", f"attach '{published}.copy' as other", "set enable_external_access = true"]
    refusals = [run_cli("sql", query) for query in attempts]
    refused = all(code == 1 and "refused" in err and "Traceback" not in err for code, _, err in refusals)
    changed = mart_fingerprints(settings.published_db) != before
    return result("margins sql: COPY TO over margins.duckdb, read_csv, INSTALL, ATTACH, SET", "sql",
                  "refused" if refused else "ALLOWED", refusals[0][2], lost(rows, raw_rows(settings.published_db)),
                  "YES" if changed else "no", refused and not changed)


def control_characters(settings: Settings, server: FixtureServer) -> FaultResult:
    code, out, _ = run_cli("sql", "select 'gpt' || chr(27) || '[2J' || chr(7) || chr(8238) || 'x' as model_key")
    escaped = code == 0 and "\x1b" not in out and "\x07" not in out and "\\x1b[2J\\x07\\u202ex" in out
    return result("control characters in a value, table output", "sql", "escaped" if escaped else "RAW",
                  out.splitlines()[2] if len(out.splitlines()) > 2 else out, 0, "no", escaped)


# ---- payloads and landing ---------------------------------------------------------------------------------------

def url_password(settings: Settings, server: FixtureServer) -> FaultResult:
    server.route(LITELLM, Reply(200, _litellm()))
    url = server.url.replace("http://", "http://reader:s3cret-pass@") + LITELLM
    before = raw_rows(settings.working_db)
    outcome = ingest_source(SOURCES["litellm"], _with_url(settings, "litellm", url), HttpClient(FAST_HTTP),
                            run_id="fault:url-password")
    with duckdb.connect(str(settings.working_db), read_only=True) as connection:
        leaked = connection.execute("select count(*) from raw.fetch_log where url like '%s3cret%' "
                                    "or error like '%s3cret%'").fetchone()[0]
    leaked += sum(b"s3cret" in path.read_bytes() for path in settings.landing_dir.glob("*.jsonl"))
    return result("password in a source URL (user:pass@host)", "litellm", "redacted" if not leaked else "STORED",
                  f"{outcome.status}; stored as reader:***@; {leaked} copies of the password stored",
                  lost(before, raw_rows(settings.working_db)), "no", outcome.status == "ok" and leaked == 0)


def landed_file_changed_in_place(settings: Settings, server: FixtureServer) -> FaultResult:
    content = _litellm()
    path = settings.landing_dir / "litellm" / file_sha256_of(content)
    size = path.stat().st_size
    damaged = bytearray(path.read_bytes())
    damaged[size // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    server.route(LITELLM, Reply(200, content))
    before = raw_rows(settings.working_db)
    outcome = ingest_source(SOURCES["litellm"], _with_url(settings, "litellm", server.url + LITELLM),
                            HttpClient(FAST_HTTP), run_id="fault:landed-file-changed")
    repaired = path.stat().st_size == size and file_sha256(path) == path.name
    message = outcome.message or ""
    return result("landed file changed in place (same size)", "litellm", "repaired" if repaired else "UNNOTICED",
                  message, lost(before, raw_rows(settings.working_db)), "no",
                  repaired and outcome.status == "ok" and "damaged" in message)


def file_sha256_of(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


def stale_temp_files(settings: Settings, server: FixtureServer) -> FaultResult:
    debris = [settings.data_dir / ".margins.duckdb.4194999.tmp",
              settings.landing_dir / "litellm" / f".{'0' * 64}.4194998.tmp"]
    for path in debris:
        path.write_bytes(b"\0" * 4_000_000)
    with writer_lock(settings):
        lines = prepare_refresh(settings)
    swept = not any(path.exists() for path in debris)
    return result("temp files of a killed refresh (publish, landing)", "warehouse", "swept" if swept else "LEFT",
                  "; ".join(lines), 0, "no", swept and bool(lines))


@contextlib.contextmanager
def small_tmpfs(size_mb: int) -> Iterator[Path | None]:
    """A real tmpfs of ``size_mb`` (None where mounting is not allowed here)."""
    directory = Path(tempfile.mkdtemp(prefix="margins-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(directory)],
                             capture_output=True).returncode == 0
    try:
        yield directory if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(directory)], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def free_space_reported(free: int) -> Iterator[None]:
    """The free-space probe reports ``free`` bytes (so a write runs into the real ENOSPC of the tmpfs)."""
    original = diskspace.free_bytes
    diskspace.free_bytes = lambda path: free
    try:
        yield
    finally:
        diskspace.free_bytes = original


def landing_disk_full(settings: Settings, server: FixtureServer) -> FaultResult:
    server.route(LITELLM, Reply(200, _litellm()))
    with small_tmpfs(6) as mount:
        if mount is None:
            return _disk_full_by_probe(settings, server)
        full = Settings(data_dir=mount, offline=False, urls={**settings.urls, "litellm": server.url + LITELLM})
        checked = ingest_source(SOURCES["litellm"], full, HttpClient(FAST_HTTP), run_id="fault:disk-full")
        with free_space_reported(1 << 40):  # past the check: the write itself hits ENOSPC
            raw = ingest_source(SOURCES["litellm"], full, HttpClient(FAST_HTTP), run_id="fault:disk-full-raw")
        debris = [path for path in mount.rglob("*.tmp")]
    messages = f"{checked.message} | {raw.message}"
    passed = (checked.status == raw.status == "failed" and "needs" in (checked.message or "")
              and "No space left on device" in (checked.message or "") + (raw.message or "") and not debris)
    return result("disk full while landing (6 MB tmpfs)", "litellm", checked.status, messages, 0, "no", passed)


def _disk_full_by_probe(settings: Settings, server: FixtureServer) -> FaultResult:
    with free_space_reported(0):
        outcome = ingest_source(SOURCES["litellm"], _with_url(settings, "litellm", server.url + LITELLM),
                                HttpClient(FAST_HTTP), run_id="fault:disk-full")
    return result("disk full while landing (free-space probe reports 0)", "litellm", outcome.status,
                  outcome.message or "", 0, "no", outcome.status == "failed" and "needs" in (outcome.message or ""))


def publish_disk_full(settings: Settings, server: FixtureServer) -> FaultResult:
    size_mb = settings.published_db.stat().st_size // 2**20
    with small_tmpfs(size_mb + 40) as mount:
        if mount is None:
            return result("disk full while publishing", "publish", "skipped", "tmpfs not mountable here", 0, "no",
                          True)
        shutil.copyfile(settings.published_db, mount / "margins.duckdb")
        (mount / "work").symlink_to(settings.working_db.parent)
        full = Settings(data_dir=mount, offline=True, urls=settings.urls)
        before = mart_fingerprints(full.published_db)
        messages = [_publish_error(full, None), _publish_error(full, 1 << 40)]  # the probe; past it, ENOSPC
        debris = list(mount.glob("*.tmp")) + list(mount.glob(".*.tmp"))
        unchanged = mart_fingerprints(full.published_db) == before
    passed = not debris and unchanged and "needs" in messages[0] and "No space left" in messages[1]
    return result(f"disk full while publishing ({size_mb + 40} MB tmpfs)", "publish",
                  "previous copy kept" if passed else "DEBRIS", f"{messages[0]} | {len(debris)} temp files left", 0,
                  "no" if unchanged else "YES", passed)


def _publish_error(settings: Settings, free: int | None) -> str:
    try:
        with free_space_reported(free) if free else contextlib.nullcontext():
            publish(settings)
    except OSError as error:
        return str(error).splitlines()[0]
    return "published"


# ---- whole refreshes --------------------------------------------------------------------------------------------

def corrupt_dagster_instance(settings: Settings, server: FixtureServer) -> FaultResult:
    runs_db = Path(os.environ["DAGSTER_HOME"]) / "history" / "runs.db"
    saved = runs_db.read_bytes()
    runs_db.write_bytes(b"this is not a sqlite database" * 1000)
    try:
        code, _, err = run_cli("refresh", "--offline", "--sources", "litellm")
    finally:
        runs_db.write_bytes(saved)
    one_line = err.strip().splitlines()[-1] if err.strip() else ""
    passed = code == 1 and "Dagster instance database" in one_line and "history" in one_line \
        and "Traceback" not in err
    return result("corrupt Dagster run database", "dagster", "named" if passed else "TRACEBACK", one_line, 0, "no",
                  passed)


def export_unwritable(settings: Settings, server: FixtureServer) -> FaultResult:
    target = settings.published_db / "parquet"  # under a file: cannot be created
    code, _, err = run_cli("export", "--parquet", str(target))
    passed = code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return result("export to an unwritable path", "export", "one line" if passed else "TRACEBACK", err, 0, "no",
                  passed)


def bad_value_refresh(settings: Settings, server: FixtureServer) -> FaultResult:
    """A full refresh where one source serves a payload that crashed the parser: the others still publish."""
    # nested objects, not the arrays of the "JSON nested 100,000 deep" fault: new bytes, so parsed (and rejected)
    deep = '"deep-objects": {"litellm_provider": "openai", "x": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}"
    server.route(LITELLM, Reply(200, _with_litellm_entry(deep)))
    server.route(OPENROUTER, Reply(200, _openrouter()))
    before = raw_rows(settings.working_db)
    litellm_before = _litellm_marts(settings)
    urls = {"MARGINS_LITELLM_URL": server.url + LITELLM, "MARGINS_OPENROUTER_URL": server.url + OPENROUTER}
    with temporary_environment(urls):
        code, out, _ = run_cli("refresh", "--sources", "litellm,openrouter")
        again = ingest_source(SOURCES["litellm"], Settings.from_env(), HttpClient(FAST_HTTP), run_id="fault:again")
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        fresh = dict(connection.execute("select source, not is_stale from marts.source_status").fetchall())
    line = next((line for line in out.splitlines() if line.startswith("litellm: ") and "RecursionError" in line), "")
    passed = (code == 0 and fresh.get("openrouter") and bool(line) and again.status == "rejected"
              and "rejected before" in (again.message or ""))
    unchanged = _litellm_marts(settings) == litellm_before
    return result("one source's payload crashes its parser, in a full refresh", "litellm",
                  "rejected, others published" if passed else "NOT PUBLISHED", line.strip(),
                  lost(before, raw_rows(settings.working_db)), "no (litellm)" if unchanged else "YES",
                  passed and unchanged)


def _litellm_marts(settings: Settings) -> tuple:
    """LiteLLM's daily token prices up to the as-of day of the warehouse before the fault (a refresh as of a later
    day adds that day's carried-forward rows, which is no change to LiteLLM's data)."""
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        return connection.execute("select count(*), sum(hash(t)) from marts.fct_token_prices_daily as t "
                                  "where source = 'litellm' and price_date <= date '" + _PINNED_AS_OF + "'").fetchone()


_PINNED_AS_OF = "2026-11-30"  # the fault suite's warehouse before the scenarios (tests.conftest.AS_OF)


def recover_from_published(settings: Settings, server: FixtureServer) -> FaultResult:
    """Live data landed after the last publish, then the working database is damaged: nothing is lost."""
    with temporary_environment(route_azure(server)):
        assert ingest_source(SOURCES["azure"], Settings.from_env(), HttpClient(FAST_HTTP),
                             run_id="fault:live-azure").status == "ok"
    before = raw_rows(settings.working_db)
    _damage(settings.working_db)
    code, _, err = run_cli("refresh", "--offline")
    line = next((line for line in err.splitlines() if line.startswith("recovery:")), "")
    azure = _azure_rows(settings)
    passed = code == 0 and "rebuilt from the published copy" in line and azure > 0
    _FINGERPRINTS["recovered"] = mart_fingerprints(settings.published_db)
    return result("working database damaged (header overwritten)", "warehouse",
                  "recovered" if passed else "FAILED", f"{line} ({azure} live azure rows in the marts)",
                  lost(before, raw_rows(settings.working_db)), "no (live history kept)" if azure else "YES", passed)


def recover_from_landing(settings: Settings, server: FixtureServer) -> FaultResult:
    """The working database damaged and no published copy: everything is replayed from landing/."""
    before = raw_rows(settings.working_db)
    _damage(settings.working_db)
    aside = settings.published_db.with_name("margins.duckdb.aside")
    os.replace(settings.published_db, aside)
    code, _, err = run_cli("refresh", "--offline")
    line = next((line for line in err.splitlines() if line.startswith("recovery:")), "")
    aside.unlink(missing_ok=True)
    rebuilt = mart_fingerprints(settings.published_db) if code == 0 else {}
    differing = sorted(mart for mart, value in rebuilt.items() if value != _FINGERPRINTS.get("recovered", {}).get(mart))
    same = code == 0 and not differing
    line = line + (f" (marts that differ from the recovered build: {', '.join(differing)})" if differing else "")
    passed = code == 0 and "rebuilt from landing/" in line and _azure_rows(settings) > 0
    return result("working database damaged and no published copy", "warehouse",
                  "rebuilt from landing/" if passed else "FAILED", line,
                  lost(before, raw_rows(settings.working_db)), "no" if same else "YES", passed and same)


_FINGERPRINTS: dict[str, dict] = {}


def _azure_rows(settings: Settings) -> int:
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        return connection.execute(
            "select count(*) from marts.fct_gpu_prices_daily where source = 'azure'").fetchone()[0]


def _damage(database: Path) -> None:
    with open(database, "r+b") as handle:
        handle.write(b"\xde\xad\xbe\xef" * 2048)


def _with_url(settings: Settings, source: str, url: str) -> Settings:
    return Settings(data_dir=settings.data_dir, offline=False, urls={**settings.urls, source: url})


Scenario = Callable[[Settings, FixtureServer], FaultResult]
# Run right after the suite's rebuild, before the recovered faults land new litellm data, so "litellm's marts did
# not change" is measured against a build of the same data.
FIRST: tuple[Scenario, ...] = (bad_value_refresh,)
REST: tuple[Scenario, ...] = (
    sql_door, control_characters, url_password, landed_file_changed_in_place, stale_temp_files, landing_disk_full,
    publish_disk_full, export_unwritable, corrupt_dagster_instance, recover_from_published, recover_from_landing,
)
SCENARIOS = FIRST + REST


def run_scenarios(settings: Settings, server: FixtureServer, scenarios: tuple[Scenario, ...]) -> list[FaultResult]:
    return [scenario(settings, server) for scenario in scenarios]
