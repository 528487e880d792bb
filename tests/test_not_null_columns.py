"""The generic test not_null_columns (dbt_project/tests/generic/not_null_columns.sql): one scan of a model for
every column that must not be null, instead of one dbt node (and two Dagster asset-check events) per column.

Its SQL is rendered with dbt's own Jinja environment and run on a small DuckDB table (no dbt build); the
whole warehouse build of the session runs it on real data.
"""

from __future__ import annotations

import duckdb

from tests.conftest import render_generic_test


def failures(connection: duckdb.DuckDBPyConnection, columns: list[str]) -> list[tuple]:
    sql = render_generic_test("not_null_columns", model="t", column_names=columns)
    return connection.sql(f"select * from ({sql}) as failing order by 1").fetchall()


def test_names_each_column_with_nulls_and_counts_them():
    connection = duckdb.connect()
    connection.execute("create table t as select * from (values (1, null, 'x', 1.5), (2, null, null, 2.5), "
                       "(3, 5, 'y', 3.5)) as v(a, b, c, d)")
    assert failures(connection, ["a", "b", "c", "d"]) == [("b", 2), ("c", 1)]
    assert failures(connection, ["a", "d"]) == []
    connection.execute("delete from t")
    assert failures(connection, ["a", "b", "c", "d"]) == []


def own_config(test: dict) -> bool:
    config = test["config"]
    return bool(config.get("where") or test["tags"] or config.get("store_failures")
                or str(config.get("severity", "error")).lower() != "error")


def test_plain_not_null_tests_are_folded_into_one_per_model(dbt_manifest):
    """A not_null test of its own is for a column with its own config (severity, where, tags, store_failures);
    the other columns of a model or seed are listed in its one not_null_columns test without config."""
    tests = [node for node in dbt_manifest["nodes"].values()
             if node["resource_type"] == "test" and not own_config(node)]
    kind = {node["unique_id"]: (node.get("test_metadata") or {}).get("name") for node in tests}
    plain = [node["name"] for node in tests if kind[node["unique_id"]] == "not_null"]
    assert plain == [], "list these columns in the model's not_null_columns test"
    folded = [node["attached_node"] for node in tests if kind[node["unique_id"]] == "not_null_columns"]
    assert folded and len(folded) == len(set(folded))
