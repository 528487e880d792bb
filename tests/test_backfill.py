"""Backfill from git history, against an emulated GitHub on 127.0.0.1 serving real LiteLLM files.

The emulated BerriAI/litellm history (page size 3, so the listing spans two pages):

| commit | committed (UTC)      | file                                   | sampled by --every week |
|--------|----------------------|----------------------------------------|-------------------------|
| Z      | 2025-06-02 09:00     | none (a 404 if it were ever fetched)   | no (same week as A)     |
| A      | 2025-06-02 18:25:29  | 2025-06-02 file (real commit 94650c1…) | yes                     |
| C      | 2025-06-20 12:00     | derived from A (see fixtures README)   | yes                     |
| D      | 2026-11-17 10:00     | 2026-11-20 file                        | no (same week as E)     |
| E      | 2026-11-19 15:00     | 2026-11-20 file                        | yes                     |

C deletes a model and applies o3's real June 2025 price cut, both real changes LiteLLM published by its next
monthly version (2025-07-03, in the bundled history).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pytest
from dagster import materialize

from pipelines.backfill import sample_commits
from pipelines.cli import main
from pipelines.github import Commit, GitHubClient, RateLimitedError, github_http_client
from pipelines.resources import MarginsSettings
from pipelines.settings import Settings
from tests.github_emulator import GitHubEmulator
from tests.http_server import Reply, fixture_bytes

REPO, PATH = "BerriAI/litellm", "model_prices_and_context_window.json"
LISTING = f"/api/repos/{REPO}/commits"
TOKEN = "ghp_emulatedTokenThatMustNeverLand0001"
JUNE_FILE = "tokens/litellm_model_prices_2025-06-02.json.gz"
DERIVED_FILE = "tokens/litellm_model_prices_2025-06-02_derived.json.gz"
NOVEMBER_FILE = "tokens/litellm_model_prices_2026-11-20.json.gz"


def _sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


Z = (_sha("Z"), "2025-06-02T09:00:00Z", None)
A = ("94650c10fe7a4c7ddfa5150d34faeae7f8688955", "2025-06-02T18:25:29Z", JUNE_FILE)
C = (_sha("C"), "2025-06-20T12:00:00Z", DERIVED_FILE)
D = (_sha("D"), "2026-11-17T10:00:00Z", NOVEMBER_FILE)
E = (_sha("E"), "2026-11-19T15:00:00Z", NOVEMBER_FILE)
HISTORY = (Z, A, C, D, E)


def at(commit) -> datetime:
    return datetime.fromisoformat(commit[1].replace("Z", "+00:00"))


def emulate_history(server: GitHubEmulator) -> None:
    for sha, committed_at, fixture in HISTORY:
        server.add_commit(REPO, PATH, sha, committed_at, fixture_bytes(fixture) if fixture else None)


def point_at(server: GitHubEmulator, patch: pytest.MonkeyPatch) -> None:
    patch.setenv("MARGINS_GITHUB_API_URL", server.api_url)
    patch.setenv("MARGINS_GITHUB_RAW_URL", server.raw_url)
    patch.setenv("MARGINS_LITELLM_URL", f"{server.url}/litellm/model_prices_and_context_window.json")
    patch.setenv("MARGINS_OPENROUTER_URL", f"{server.url}/openrouter/api/v1/models")
    patch.delenv("MARGINS_OFFLINE", raising=False)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@dataclass
class Warehouse:
    settings: Settings
    server: GitHubEmulator
    backfill_output: str

    def published(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.published_db), read_only=True)

    def working(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.working_db), read_only=True)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    """`margins backfill --no-build`, then a live refresh of LiteLLM and OpenRouter from the local server."""
    root = tmp_path_factory.mktemp("backfill")
    patch = pytest.MonkeyPatch()
    with GitHubEmulator(page_size=3) as server:
        try:
            point_at(server, patch)
            patch.setenv("MARGINS_DATA_DIR", str(root / "warehouse"))
            patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
            patch.setenv("GITHUB_TOKEN", TOKEN)
            server.route("/litellm/model_prices_and_context_window.json", Reply(200, fixture_bytes(NOVEMBER_FILE)))
            server.route("/openrouter/api/v1/models",
                         Reply(200, fixture_bytes("tokens/openrouter_models_2026-08-19.json.gz")))
            emulate_history(server)
            # the backfill lands only, and the live refresh builds both (one dbt build instead of two; the change
            # logs reconstruct the same history in any load order, tests/test_changes.py)
            code, output, errors = run_cli(["backfill", "--source", "litellm", "--since", "2025-06-01",
                                            "--until", "2026-11-30", "--every", "week", "--no-build"])
            assert code == 0, errors
            assert run_cli(["refresh", "--strict", "--sources", "litellm,openrouter"])[0] == 0
            yield Warehouse(Settings.from_env(), server, output)
        finally:
            patch.undo()


def history_of(connection, key: str) -> list[tuple]:
    return connection.execute("""
        select valid_from, last_seen_at, valid_to, usd_per_1m_input, usd_per_1m_output
        from intermediate.int_token_price_history
        where source = 'litellm' and source_model_key = ? order by valid_from
    """, [key]).fetchall()


def next_snapshot_after(connection, moment: datetime) -> datetime:
    return connection.execute("""
        select min(observed_at) from intermediate.int_snapshots
        where source = 'litellm' and scope = 'full' and observed_at > ?
    """, [moment]).fetchone()[0]


# --- sampling, listing and rate limits (no warehouse build) ---

def test_sampling_keeps_the_last_commit_of_each_day_week_and_month():
    commits = [Commit(sha, at((sha, when, None))) for sha, when, _ in HISTORY]
    assert [c.sha for c in sample_commits(commits, "day")] == [A[0], C[0], D[0], E[0]]
    assert [c.sha for c in sample_commits(commits, "week")] == [A[0], C[0], E[0]]
    assert [c.sha for c in sample_commits(commits, "month")] == [C[0], E[0]]


def test_listing_follows_the_link_header_and_sends_the_token_to_the_api_only(monkeypatch, tmp_path):
    with GitHubEmulator(page_size=3) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        emulate_history(server)
        client = GitHubClient(Settings.from_env(data_dir=tmp_path), github_http_client(), "litellm")
        commits = client.list_commits(REPO, PATH, at(Z), datetime(2026, 12, 1, tzinfo=UTC))
        assert [c.sha for c in commits] == [sha for sha, _, _ in HISTORY]
        pages = server.requests_to("/api/")
        assert len(pages) == 2 and "page=2" in pages[1][0] and pages[1][0].startswith("/api/repositories/")
        assert all(headers.get("Authorization") == f"Bearer {TOKEN}" for _, headers in pages)
        assert client.download(REPO, A[0], PATH).content == fixture_bytes(JUNE_FILE)
        assert "Authorization" not in server.requests_to("/raw/")[0][1]
        assert client.latest_commit(REPO, PATH, datetime(2026, 11, 18, tzinfo=UTC)).sha == D[0]


def test_rate_limit_403_with_no_requests_remaining_stops_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("MARGINS_DATA_DIR", str(tmp_path / "warehouse"))
    with GitHubEmulator() as server:
        point_at(server, monkeypatch)
        emulate_history(server)
        reset = int(time.time()) + 3600
        server.script(LISTING, Reply(403, b'{"message": "API rate limit exceeded for 127.0.0.1."}',
                                     {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0",
                                      "X-RateLimit-Reset": str(reset)}))
        started = time.monotonic()
        code, _, errors = run_cli(["backfill", "--source", "litellm", "--since", "2025-06-01"])
    assert code == 1
    assert time.monotonic() - started < 10, "a far-away reset must stop, not wait"
    assert "litellm" in errors and "rate limit" in errors and "X-RateLimit-Remaining: 0" in errors
    assert f"{datetime.fromtimestamp(reset, UTC):%Y-%m-%d %H:%M} UTC" in errors
    assert "GITHUB_TOKEN" in errors and "re-run" in errors
    assert not server.requests_to("/raw/"), "nothing is downloaded once the API says stop"
    assert not (tmp_path / "warehouse" / "margins.duckdb").exists()


def test_rate_limit_with_a_near_reset_waits_then_goes_on(monkeypatch, tmp_path):
    with GitHubEmulator() as server:
        point_at(server, monkeypatch)
        emulate_history(server)
        server.script(LISTING, Reply(403, b"{}", {"X-RateLimit-Remaining": "0",
                                                  "X-RateLimit-Reset": str(int(time.time()) + 2)}),
                      Reply(429, b"{}", {"Retry-After": "3"}))
        waits: list[float] = []
        client = GitHubClient(Settings.from_env(data_dir=tmp_path), github_http_client(), "litellm", sleep=waits.append)
        assert len(client.list_commits(REPO, PATH)) == len(HISTORY)
    assert len(waits) == 2 and 0 < waits[0] <= 4 and waits[1] == 3


def test_a_reset_beyond_the_wait_limit_raises_rate_limited(monkeypatch, tmp_path):
    with GitHubEmulator() as server:
        point_at(server, monkeypatch)
        server.script(LISTING, Reply(429, b"{}", {"Retry-After": "600"}))
        client = GitHubClient(Settings.from_env(data_dir=tmp_path), github_http_client(), "litellm", max_wait_s=60)
        with pytest.raises(RateLimitedError, match="litellm: GitHub API rate limit"):
            client.list_commits(REPO, PATH)


def test_after_the_last_allowed_request_the_next_page_is_not_requested(monkeypatch, tmp_path):
    with GitHubEmulator() as server:
        point_at(server, monkeypatch)
        next_page = f"{server.api_url}/repositories/1/commits?path={PATH}&page=2"
        server.script(LISTING, Reply(200, b"[]", {"Link": f'<{next_page}>; rel="next"', "X-RateLimit-Remaining": "0",
                                                  "X-RateLimit-Reset": str(int(time.time()) + 3600)}))
        client = GitHubClient(Settings.from_env(data_dir=tmp_path), github_http_client(), "litellm")
        with pytest.raises(RateLimitedError, match="resets at"):
            client.list_commits(REPO, PATH)
        assert not server.requests_to("/api/repositories/")


@pytest.mark.parametrize("argv, message", [
    (["--source", "openrouter", "--since", "2025-06-01"], "unknown source"),
    (["--source", "litellm", "--since", "June"], "YYYY-MM-DD"),
    (["--source", "litellm", "--since", "2025-06-02", "--until", "2025-06-01"], "after --until"),
])
def test_backfill_usage_errors_exit_2(argv, message, data_dir):
    code, _, errors = run_cli(["backfill", *argv])
    assert code == 2 and message in errors


# --- the backfilled warehouse (one live refresh + one backfill, shared) ---

@pytest.mark.slow
def test_live_refresh_lands_and_parses_both_token_sources(warehouse, capsys):
    with warehouse.published() as connection:
        live = connection.execute("""
            select source, count(*), sum(rows_parsed) from raw.fetch_log where mode = 'live' and status = 'ok'
            group by 1 order by 1""").fetchall()
    assert [(source, count) for source, count, _ in live] == [("litellm", 1), ("openrouter", 1)]
    assert all(rows > 400 for _, _, rows in live)
    assert main(["sql", "select usd_per_1m_input, usd_per_1m_output from marts.fct_token_prices_daily "
                        "where source = 'litellm' and source_model_key = 'gpt-4o' and price_date = '2026-11-20'",
                 "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["usd_per_1m_input,usd_per_1m_output", "2.5,10"]


@pytest.mark.slow
def test_backfill_lists_two_pages_and_lands_the_three_sampled_commits(warehouse):
    assert len(warehouse.server.requests_to(LISTING)) == 1
    assert len(warehouse.server.requests_to("/api/repositories/")) == 1
    downloaded = sorted(path.split("/")[4] for path, _ in warehouse.server.requests_to("/raw/"))
    assert downloaded == sorted([A[0], C[0], E[0]])
    with warehouse.published() as connection:
        landed = connection.execute("""
            select observed_at, url, status from raw.fetch_log where source = 'litellm' and mode = 'backfill'
            order by observed_at""").fetchall()
    assert [row[0] for row in landed] == [at(A), at(C), at(E)]
    assert all(status == "ok" and url.endswith(f"/{PATH}") for _, url, status in landed)
    assert "3 commit(s) sampled, 3 landed" in warehouse.backfill_output


@pytest.mark.slow
def test_a_price_change_between_sampled_commits_starts_a_version_at_its_commit(warehouse):
    with warehouse.published() as connection:
        versions = history_of(connection, "o3")
        after_a = next_snapshot_after(connection, at(A))
    june = [v for v in versions if v[0] <= at(A) and v[3] == Decimal("10.00")]
    assert june and june[-1][1] == at(A) and june[-1][2] == at(C) == after_a
    cut = [v for v in versions if v[0] == at(C)]
    assert cut and (cut[0][3], cut[0][4]) == (Decimal("2.00"), Decimal("8.00"))
    assert cut[0][2] is None or cut[0][2] > datetime(2025, 7, 3, tzinfo=UTC), "the July history confirms the cut"


@pytest.mark.slow
def test_a_model_deleted_between_snapshots_stays_in_history(warehouse):
    key = "accounts/fireworks/models/llama-v3p2-90b-vision-instruct"
    with warehouse.published() as connection:
        versions = history_of(connection, key)
        days = connection.execute("""
            select min(price_date), max(price_date) from marts.fct_token_prices_daily
            where source = 'litellm' and source_model_key = ?""", [key]).fetchone()
    assert versions[-1][1] == at(A) and versions[-1][2] == at(C)
    assert (versions[-1][3], versions[-1][4]) == (Decimal("0.90"), Decimal("0.90"))
    assert days[0] < at(A).date() and days[1] == datetime(2025, 6, 19).date()


@pytest.mark.slow
def test_rerunning_the_backfill_lands_nothing_twice(warehouse):
    def counts():
        with warehouse.working() as connection:
            return connection.execute("""select (select count(*) from raw.token_observations),
                (select count(*) from raw.snapshots), (select count(*) from raw.payloads)""").fetchone()

    before, downloads = counts(), len(warehouse.server.requests_to("/raw/"))
    code, output, _ = run_cli(["backfill", "--source", "litellm", "--since", "2025-06-01", "--until", "2026-11-30",
                               "--every", "week", "--no-build"])
    assert code == 0 and "0 landed" in output and output.count("skipped") == 3
    assert counts() == before
    assert len(warehouse.server.requests_to("/raw/")) == downloads


@pytest.mark.slow
def test_the_github_token_never_lands_and_is_never_logged(warehouse):
    with warehouse.working() as connection:
        logged = connection.execute("select string_agg(coalesce(url, '') || coalesce(error, ''), ' ') "
                                    "from raw.fetch_log").fetchone()[0]
    assert TOKEN not in logged
    for path in warehouse.settings.data_dir.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb" and path.stat().st_size < 50_000_000:
            assert TOKEN.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_sentinel_prices_reach_the_warehouse(warehouse):
    with warehouse.published() as connection:
        variable = connection.execute("""
            select usd_per_1m_input, usd_per_1m_output, has_variable_price from marts.fct_token_prices_daily
            where source = 'openrouter' and source_model_key = 'openrouter/auto-beta' limit 1""").fetchone()
        free = connection.execute("""
            select count(*), bool_and(is_free and usd_per_1m_input = 0 and usd_per_1m_output = 0)
            from marts.fct_token_prices_daily where source = 'openrouter' and source_model_key like '%:free'
              and price_date = '2026-08-18'""").fetchone()
        absent = connection.execute("""
            select count(*) from raw.token_observations where source = 'openrouter'
              and usd_per_1m_cached_input is null and usd_per_1m_input > 0""").fetchone()[0]
        negative = connection.execute("""
            select count(*) from raw.token_observations
            where usd_per_1m_input < 0 or usd_per_1m_output < 0""").fetchone()[0]
        float_tokens = connection.execute("""
            select max_input_tokens from intermediate.int_token_price_history
            where source = 'litellm' and source_model_key = 'vertex_ai/meta/llama-4-scout-17b-16e-instruct-maas'
              and valid_from <= ? order by valid_from desc limit 1""", [at(A)]).fetchone()[0]
    assert variable == (None, None, True)
    assert free[0] >= 17 and free[1]
    assert absent > 0 and negative == 0
    assert float_tokens == 10_000_000    # 10000000.0 in the real 2025-06-02 file


@pytest.mark.slow
def test_unmapped_keys_are_reported_with_first_and_last_seen(warehouse):
    with warehouse.published() as connection:
        total = connection.execute("select count(*) from marts.unmapped_model_aliases").fetchone()[0]
        vision = connection.execute("""
            select model_alias, first_seen_at, last_seen_at from marts.unmapped_model_aliases
            where source = 'litellm' and source_model_key = 'accounts/fireworks/models/llama-v3p2-90b-vision-instruct'
        """).fetchone()
    assert total > 100
    assert vision[0] == "llama-v3p2-90b-vision-instruct" and vision[2] == at(A) and vision[1] < at(A)


@pytest.mark.slow
def test_dagster_materialises_one_backfill_partition(warehouse):
    from pipelines.assets.backfill import backfill_assets
    from pipelines.assets.constants import backfill_asset_key

    asset = next(a for a in backfill_assets if backfill_asset_key("litellm") in a.keys)
    with warehouse.working() as connection:
        observations = connection.execute("select count(*) from raw.token_observations").fetchone()[0]
    result = materialize([asset], partition_key="2026-11-17",
                         resources={"settings": MarginsSettings(data_dir=str(warehouse.settings.data_dir))})
    assert result.success
    metadata = result.asset_materializations_for_node(asset.node_def.name)[0].metadata
    assert metadata["landed"].value == 1 and metadata["new_payloads"].value == 0
    with warehouse.working() as connection:
        snapshot = connection.execute("""
            select mode from raw.snapshots where source = 'litellm' and observed_at = ?""", [at(D)]).fetchall()
        assert connection.execute("select count(*) from raw.token_observations").fetchone()[0] == observations
    assert snapshot == [("backfill",)], "the commit in force on 2026-11-17 is D, dated by its commit"


def test_skypilot_backfill_lands_the_catalog_file_of_each_configured_cloud(monkeypatch, tmp_path):
    monkeypatch.setenv("MARGINS_DATA_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("MARGINS_SKYPILOT_CLOUDS", "aws,lambda")
    with GitHubEmulator() as server:
        point_at(server, monkeypatch)
        for cloud, committed_at in (("aws", "2026-03-02T08:00:00Z"), ("lambda", "2026-03-05T17:30:00Z")):
            server.add_commit("skypilot-org/skypilot-catalog", f"catalogs/v8/{cloud}/vms.csv", _sha(cloud),
                              committed_at, fixture_bytes(f"gpu/skypilot_v8_{cloud}_vms_gpu.csv"))
        code, output, errors = run_cli(["backfill", "--source", "skypilot", "--since", "2026-03-01",
                                        "--until", "2026-03-31", "--no-build"])
    assert code == 0, errors
    assert "2 commit(s) sampled, 2 landed" in output
    settings = Settings.from_env()
    with duckdb.connect(str(settings.working_db), read_only=True) as connection:
        snapshots = connection.execute("""
            select scope, observed_at from raw.snapshots where source = 'skypilot' and mode = 'backfill'
            order by scope""").fetchall()
        p5 = connection.execute("""
            select distinct usd_per_gpu_hour from raw.gpu_observations as rows
            join raw.snapshots using (source, sha256, scope)
            where snapshots.mode = 'backfill' and rows.instance_type = 'p5.48xlarge' and rows.region = 'us-east-1'
              and rows.pricing_type = 'on_demand'""").fetchall()
    assert snapshots == [("aws", datetime(2026, 3, 2, 8, tzinfo=UTC)),
                         ("lambda", datetime(2026, 3, 5, 17, 30, tzinfo=UTC))]
    assert p5 == [(Decimal("6.880000"),)]
