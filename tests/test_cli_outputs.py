"""What `margins refresh` says about each source, read from raw.fetch_log, and the width of what it prints.

No Dagster run: the fetch-log rows are written by hand as pipelines.ingest writes them.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.cli import EXIT_FAILED, _run_handler
from pipelines.dbt_state import ManifestError
from pipelines.render import MAX_LINE, refresh_summary, status_json, status_table
from pipelines.runs import RefreshRuns, SourceRun, source_runs
from pipelines.settings import Settings
from pipelines.warehouse import connect_working

RUN = "run-2"
LONG_URL = "https://prices.azure.com/api/retail/prices?" + "&".join(f"$filter{i}=armSkuName" for i in range(30))
AZURE_ERROR = f"azure: HTTP 503 Service Unavailable from {LONG_URL} after 4 attempts"
START = datetime(2026, 11, 30, 6, tzinfo=UTC)


class Result(RefreshRuns):
    """A refresh whose sources run is RUN, with the given failed steps."""

    def __init__(self, failed_steps: dict[str, str] | None = None) -> None:
        super().__init__([], RUN)
        self.failed_steps = failed_steps or {}

    def get_step_failure_events(self) -> list:
        from types import SimpleNamespace

        return [SimpleNamespace(step_key=key, step_failure_data=SimpleNamespace(error=SimpleNamespace(message=text)))
                for key, text in self.failed_steps.items()]


def log(connection, source, status, run_id=RUN, sha256=None, mode="live", rows=None, quarantined=None, error=None,
        name=None, minutes=0):
    connection.execute(
        "insert into raw.fetch_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [str(uuid.uuid4()), run_id, source, name or (sha256 and f"{source}.json"), None, mode, status,
         START + timedelta(minutes=minutes), None, sha256, 100 if sha256 else None, rows, quarantined, error])


@pytest.fixture
def settings(data_dir) -> Settings:
    settings = Settings.from_env()
    with connect_working(settings) as connection:
        # an earlier run applied litellm's payload "a" (so it is no longer new) and held openrouter's "h" as suspect
        log(connection, "litellm", "ok", run_id="run-1", sha256="a", rows=900, minutes=-60)
        log(connection, "openrouter", "suspect", run_id="run-1", sha256="h", rows=300, minutes=-60,
            error="openrouter: models.json: held as suspect")
        # this run
        log(connection, "litellm", "ok", sha256="a", rows=900)                        # the same bytes again
        log(connection, "litellm", "ok", sha256="b", rows=1000, quarantined=2, minutes=1,
            error="landed file b was damaged (sha256 mismatch); replaced by this fetch")
        log(connection, "openrouter", "ok", sha256="h", rows=300, minutes=1,
            error="offer drop: confirmed by a second fetch, applied")                 # held before: new now
        log(connection, "azure", "error", error=AZURE_ERROR)
        log(connection, "gcp", "skipped", error="MARGINS_GCP_API_KEY is not set")
        log(connection, "aws", "rejected", sha256="r", name="us-east-1.csv", quarantined=1,
            error="aws: us-east-1.csv: batch failed validation: 0 rows")
        log(connection, "gpu_trackers", "ok", sha256="t", mode="bundled", rows=70)
        log(connection, "gpu_trackers", "skipped", error="bundled history only: there is no live endpoint")
    return settings


def test_each_source_outcome_is_read_from_the_fetch_log(settings):
    selected = ["litellm", "openrouter", "azure", "gcp", "aws", "gpu_trackers", "skypilot", "vast"]
    runs = {run.source: run for run in source_runs(settings, Result({"sources__vast": "KeyError: 'x'\nmore"}),
                                                   selected)}
    assert list(runs) == selected
    litellm = runs["litellm"]
    assert (litellm.status, litellm.new_rows, litellm.quarantined) == ("ok", 1000, 2), "payload a is not new"
    assert litellm.message.startswith("landed file b was damaged")
    assert litellm.payload_lines == ["litellm: litellm.json: landed file b was damaged (sha256 mismatch); "
                                     "replaced by this fetch"]
    assert (runs["openrouter"].status, runs["openrouter"].new_rows) == ("ok", 300), "a confirmed batch is new"
    assert (runs["azure"].status, runs["azure"].message) == ("failed", AZURE_ERROR)
    assert runs["azure"].attempted_and_failed
    assert (runs["gcp"].status, runs["gcp"].message) == ("skipped", "MARGINS_GCP_API_KEY is not set")
    assert (runs["aws"].status, runs["aws"].quarantined) == ("rejected", 1)
    assert runs["aws"].payload_lines == ["aws: us-east-1.csv: batch failed validation: 0 rows"]
    assert (runs["gpu_trackers"].status, runs["gpu_trackers"].new_rows) == ("bundled", 70)
    assert (runs["skypilot"].status, runs["skypilot"].message) == ("ok", ""), "a fetch that landed nothing"
    assert (runs["vast"].status, runs["vast"].message) == ("failed", "vast: KeyError: 'x'")


def test_offline_sources_report_their_bundled_snapshots(settings):
    offline = Settings.from_env(data_dir=settings.data_dir, offline=True)
    runs = {run.source: run for run in source_runs(offline, Result(), ["gpu_trackers", "gcp", "azure"])}
    assert (runs["gpu_trackers"].status, runs["gpu_trackers"].message) == ("bundled", "offline: bundled snapshots only")
    assert (runs["gcp"].status, runs["gcp"].message) == ("skipped", "offline: no bundled snapshots")
    assert runs["azure"].status == "failed", "an error is an error, offline too"


def test_the_refresh_summary_fits_220_columns_and_leads_with_the_source_and_cause(settings):
    outcomes = source_runs(settings, Result(), ["litellm", "azure", "aws"])
    long_note = SourceRun("openrouter", payload_lines=[f"openrouter: models.json: {LONG_URL}"])
    freshness = {"azure": ("azure", START, True), "litellm": ("litellm", START, False)}
    text = refresh_summary([*outcomes, long_note], freshness, [("marts.fct_gpu_market_daily", 4200)],
                           settings.published_db, built=True, published=False, seconds=3.2)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= MAX_LINE
    azure = next(line for line in lines if line.startswith("azure "))
    message = azure[azure.index("azure: HTTP"):]
    assert "failed" in azure and "stale" in azure
    assert message[:100].startswith("azure: ") and "503" in message[:100]
    assert lines[-1].startswith("nothing new")
    assert any("1000" in line and "fresh" in line for line in lines if line.startswith("litellm "))


def test_status_cuts_cells_in_the_table_and_keeps_them_in_json():
    columns = ["source", "last_error", "is_stale"]
    rows = [("azure", AZURE_ERROR, True), ("litellm", "escape \x1b[31m and\nnewline", False)]
    table = status_table(columns, rows, [("litellm", START, 14)], [("marts.fct_gpu_market_daily", 4200)])
    assert max(len(line) for line in table.splitlines()) <= MAX_LINE
    assert "\x1b" not in table and "\\x1b" in table
    assert "warning: litellm: upstream content unchanged since 2026-11-30 06:00 (more than 14 days)" in table
    assert LONG_URL in status_json(columns, rows, [("marts.fct_gpu_market_daily", 4200)])


def test_a_stale_manifest_stops_a_command_with_one_line_that_says_what_to_run(capsys):
    def build_with_stale_manifest(_args: argparse.Namespace) -> int:
        raise ManifestError("the dbt manifest dbt_project/target/manifest.json is older than the dbt project: "
                            "run `make manifest`")

    assert _run_handler(argparse.Namespace(handler=build_with_stale_manifest)) == EXIT_FAILED
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert error.startswith("margins: the dbt manifest") and "make manifest" in error
