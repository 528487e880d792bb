"""The price-history views keep DuckDB's ASOF join (macros/versions_from_changes.sql).

DuckDB rewrites an ASOF join whose left side it estimates below `asof_loop_join_threshold` rows as a nested loop
plus an aggregate; on the price versions that rewrite is quadratic in the history (bench/README.md: the 3-year
daily build). The dbt profile and the published file's readers set the threshold to 0.
"""

from __future__ import annotations

import duckdb
import pytest
import yaml

from pipelines.dbt_resource import DBT_PROJECT_DIR
from pipelines.warehouse import READER_CONFIG

HISTORY_VIEWS = ("int_gpu_price_history", "int_token_price_history")


def test_the_dbt_profile_keeps_the_asof_join():
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    settings = profile["inference_margins"]["outputs"]["local"]["settings"]
    assert settings["asof_loop_join_threshold"] == 0


@pytest.mark.parametrize("view", HISTORY_VIEWS)
def test_a_reader_plans_the_history_views_with_the_asof_join(offline_warehouse, view):
    assert READER_CONFIG["asof_loop_join_threshold"] == 0
    with duckdb.connect(str(offline_warehouse.published_db), read_only=True, config=READER_CONFIG) as connection:
        plan = "\n".join(row[1] for row in connection.execute(f"explain select * from intermediate.{view}").fetchall())
    # (other nested loops in the plan are one-row joins with the as-of day; the rewrite would remove the ASOF join)
    assert "ASOF_JOIN" in plan, plan


def test_the_dated_alias_join_is_a_hash_join(offline_warehouse):
    """macros/alias_valid_on.sql: a validity test with `is null or ...` kept DuckDB from using the alias equality as
    a hash key, so every observation was compared with every alias (a blockwise nested loop)."""
    with duckdb.connect(str(offline_warehouse.published_db), read_only=True, config=READER_CONFIG) as connection:
        plan = "\n".join(row[1] for row in connection.execute(
            "explain select * from staging.stg_token_observations").fetchall())
    assert "BLOCKWISE_NL_JOIN" not in plan, plan
    assert "HASH_JOIN" in plan and "alias" in plan, plan
