"""The Dagster code location: it loads, its schedule exists, and the lineage is one graph."""

from __future__ import annotations

from dagster import AssetKey

from pipelines.definitions import defs


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
