"""The generic test not_null_columns (dbt_project/tests/generic/not_null_columns.sql): one scan of a model for
every column that must not be null, instead of one dbt node (and two Dagster asset-check events) per column.

Its SQL is rendered with dbt's own Jinja environment and run on a small DuckDB table (no dbt build); the
whole warehouse build of the session runs it on real data.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.reference import REPO_ROOT

GENERIC_TEST = REPO_ROOT / "dbt_project" / "tests" / "generic" / "not_null_columns.sql"


def not_null_columns_sql(model: str, column_names: list[str]) -> str:
    from dbt_common.clients.jinja import get_environment

    module = get_environment().from_string(Path(GENERIC_TEST).read_text()).make_module()
    return str(module.dbt_macro__test_not_null_columns(model=model, column_names=column_names))


def failures(connection: duckdb.DuckDBPyConnection, columns: list[str]) -> list[tuple]:
    return connection.sql(f"select * from ({not_null_columns_sql('t', columns)}) as failing order by 1").fetchall()


def test_names_each_column_with_nulls_and_counts_them():
    connection = duckdb.connect()
    connection.execute("create table t as select * from (values (1, null, 'x', 1.5), (2, null, null, 2.5), "
                       "(3, 5, 'y', 3.5)) as v(a, b, c, d)")
    assert failures(connection, ["a", "b", "c", "d"]) == [("b", 2), ("c", 1)]
    assert failures(connection, ["a", "d"]) == []
    connection.execute("delete from t")
    assert failures(connection, ["a", "b", "c", "d"]) == []


@pytest.fixture(scope="module")
def manifest() -> dict:
    from pipelines.dbt_resource import ensure_manifest

    return json.loads(ensure_manifest().read_text())


def own_config(test: dict) -> bool:
    config = test["config"]
    return bool(config.get("where") or test["tags"] or config.get("store_failures")
                or str(config.get("severity", "error")).lower() != "error")


def test_plain_not_null_tests_are_folded_into_one_per_model(manifest):
    """A not_null test of its own is for a column with its own config (severity, where, tags, store_failures);
    the other columns of a model or seed are listed in its one not_null_columns test without config."""
    tests = [node for node in manifest["nodes"].values()
             if node["resource_type"] == "test" and not own_config(node)]
    kind = {node["unique_id"]: (node.get("test_metadata") or {}).get("name") for node in tests}
    plain = [node["name"] for node in tests if kind[node["unique_id"]] == "not_null"]
    assert plain == [], "list these columns in the model's not_null_columns test"
    folded = [node["attached_node"] for node in tests if kind[node["unique_id"]] == "not_null_columns"]
    assert folded and len(folded) == len(set(folded))
