"""dbt source freshness follows the newest successful live fetch: an offline warehouse is stale."""

from __future__ import annotations

import json
import os
import subprocess

from pipelines.dbt_resource import DBT_PROJECT_DIR, dbt_executable
from tests.conftest import hand_over_dbt_parse


def test_source_freshness_reports_offline_sources_as_stale(warehouse_copy, tmp_path):
    # a copy: dbt opens the database read-write
    environment = {**os.environ, "MARGINS_WORK_DB": str(warehouse_copy.working_db)}
    hand_over_dbt_parse(warehouse_copy.working_db, tmp_path)
    freshness = subprocess.run(
        [dbt_executable(), "source", "freshness", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(tmp_path), "--output", str(tmp_path / "sources.json")],
        env=environment, capture_output=True, text=True, cwd=DBT_PROJECT_DIR,
    )
    assert "Unable to do partial parsing" not in freshness.stdout, "dbt re-parsed the project (~4 s)"
    results = {item["unique_id"].split(".")[2]: item["status"]
               for item in json.loads((tmp_path / "sources.json").read_text())["results"]}
    assert results["litellm"] == "error" and results["skypilot"] == "error"
    assert "gpu_trackers" not in results, "bundled-only history has no freshness to check"
