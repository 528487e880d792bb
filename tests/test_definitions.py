"""The Dagster code location: it loads, its schedule exists, and the lineage is one graph."""

from __future__ import annotations

import sys

import pytest
from dagster import AssetKey

from pipelines.definitions import defs
from pipelines.runs import CodeLocationLoader


def test_definitions_load_and_daily_schedule_runs_the_refresh_job_at_0600_utc():
    schedule = defs.resolve_schedule_def("daily_refresh_0600_utc")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "daily_refresh"


def test_every_mart_is_downstream_of_the_source_assets():
    graph = defs.resolve_asset_graph()
    sources = {AssetKey(["sources", name]) for name in ("skypilot", "gpu_trackers", "litellm", "openrouter")}
    assert sources <= set(graph.get_all_asset_keys())
    for mart in ("fct_gpu_market_daily", "fct_gpu_prices_daily", "fct_token_prices_daily", "source_status"):
        upstream = graph.upstream_key_iterator(AssetKey(["marts", mart]))
        ancestors = _ancestors(graph, AssetKey(["marts", mart]))
        assert ancestors & sources, f"{mart} has no source upstream"
        assert list(upstream)


def test_dbt_tests_are_asset_checks():
    checks = defs.resolve_asset_graph().asset_check_keys
    assert any(check.asset_key == AssetKey(["marts", "fct_gpu_market_daily"]) for check in checks)
    assert any(check.name == "batch_validation" for check in checks)


def _ancestors(graph, key):
    seen, frontier = set(), [key]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return seen


def test_dbt_resource_starts_no_extra_dbt_process_and_no_adapter(monkeypatch):
    """The refresh's dbt resource knows dbt's version without running `dbt --version` and builds no adapter
    (dagster-dbt would, before every build); the overridden members must still exist upstream."""
    from importlib.metadata import version

    from dagster_dbt import DbtCliResource
    from dagster_dbt.core import resource as dagster_dbt_resource

    from pipelines.dbt_resource import dbt_resource

    assert {"_cli_version", "_initialize_dbt_core_adapter"} <= set(vars(DbtCliResource))
    monkeypatch.setattr(dagster_dbt_resource, "check_output", _no_subprocess)
    resource = dbt_resource()
    assert str(resource._cli_version) == version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def _no_subprocess(*args, **kwargs):
    raise AssertionError(f"unexpected subprocess: {args}")


def test_partial_parse_is_handed_over_with_this_data_dirs_profile(tmp_path, monkeypatch):
    """dbt would re-parse the whole project because the profile's path (the data directory) differs from the
    one `make manifest` parsed with; the saved parse is handed over with the current profile's hash."""
    import msgpack

    from pipelines.dbt_resource import DBT_PROJECT_DIR, _current_profile, ensure_manifest, reuse_partial_parse

    ensure_manifest()
    monkeypatch.setenv("MARGINS_WORK_DB", str(tmp_path / "elsewhere" / "work" / "margins.duckdb"))
    assert reuse_partial_parse(DBT_PROJECT_DIR / "target", tmp_path / "run")
    with open(tmp_path / "run" / "partial_parse.msgpack", "rb") as handle:
        handed_over = msgpack.unpack(handle, raw=False, strict_map_key=False)
    assert handed_over["state_check"]["profile_hash"]["checksum"] == _current_profile()[1]

    monkeypatch.setenv("MARGINS_WORK_DB", str(tmp_path / "work" / "other_name.duckdb"))
    assert not reuse_partial_parse(DBT_PROJECT_DIR / "target", tmp_path / "other"), "database name differs"


def test_a_data_directorys_own_parse_is_kept_until_it_moves_or_the_project_is_parsed_again(tmp_path):
    """The last build's parse in the data directory's dbt target is valid for its profile; it is replaced when there
    is none, the directory was copied or moved (another working-file path), or `make manifest` parsed since."""
    import os
    import shutil

    from pipelines.dbt_resource import PARSED_FOR, needs_project_parse

    parsed, target = tmp_path / "project_target", tmp_path / "data" / "dbt_target"
    parsed.mkdir()
    target.mkdir(parents=True)
    (parsed / "partial_parse.msgpack").write_bytes(b"project")
    assert needs_project_parse(parsed, target), "no parse of its own yet"
    (target / "partial_parse.msgpack").write_bytes(b"own")
    (target / PARSED_FOR).write_text(str(target.resolve()))
    assert not needs_project_parse(parsed, target)
    shutil.copytree(tmp_path / "data", tmp_path / "copy")
    assert needs_project_parse(parsed, tmp_path / "copy" / "dbt_target"), "a copied data directory"
    os.utime(parsed / "partial_parse.msgpack", (os.path.getmtime(target / "partial_parse.msgpack") + 10,) * 2)
    assert needs_project_parse(parsed, target), "the project was parsed again since"


def test_the_code_location_loaded_beside_the_sources_is_the_one_imported_and_its_error_is_raised():
    loader = CodeLocationLoader()
    loader.wait()
    assert "pipelines.definitions" in sys.modules
    with pytest.raises(ModuleNotFoundError, match="no_such_code_location"):
        CodeLocationLoader("pipelines.no_such_code_location").wait()
