"""The generic test row_rules (dbt_project/tests/generic/row_rules.sql): a model's expression and accepted-values
rules in one scan, instead of one dbt node (and two Dagster asset-check events) per rule.

Its SQL is rendered with dbt's own Jinja environment and run on a small DuckDB table (no dbt build); the whole
warehouse build of the session runs it on real data.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import render_generic_test


def failures(connection: duckdb.DuckDBPyConnection, rules: list[dict]) -> list[tuple]:
    sql = render_generic_test("row_rules", model="t", rules=rules)
    return connection.sql(f"select * from ({sql}) as failing order by 1").fetchall()


@pytest.fixture
def table() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("create table t as select * from (values (1, 'spot', 2.0), (0, 'bid', null), "
                       "(3, null, -1.0), (4, 'it''s', 5.0)) as v(n, kind, price)")
    return connection


def test_names_each_broken_rule_and_counts_its_rows(table):
    rules = [{"column": "n", "expression": "n > 0"},
             {"column": "kind", "accepted_values": ["spot", "on_demand", "it's"]},
             {"column": "price", "expression": "price > 0", "where": "n > 1"},
             {"expression": "n < 10"}]
    assert failures(table, rules) == [("kind: in ('spot', 'on_demand', 'it''s')", 1),
                                      ("n: n > 0", 1),
                                      ("price: price > 0 (where n > 1)", 1)]


def test_nulls_pass_as_in_expression_is_true_and_accepted_values(table):
    """A null expression result and a null value pass (dbt_utils.expression_is_true, dbt's accepted_values)."""
    assert failures(table, [{"column": "price", "expression": "price > -5"},
                            {"column": "kind", "accepted_values": ["spot", "bid", "it's"]}]) == []
    table.execute("delete from t")
    assert failures(table, [{"column": "n", "expression": "n > 100"}]) == []


def test_numbers_are_compared_as_numbers(table):
    assert failures(table, [{"column": "n", "accepted_values": [0, 1, 3, 4]}]) == []
    assert failures(table, [{"column": "n", "accepted_values": [1, 3]}]) == [("n: in (1, 3)", 2)]


def test_expression_and_accepted_values_tests_are_folded_into_one_per_model(dbt_manifest):
    tests = [node for node in dbt_manifest["nodes"].values() if node["resource_type"] == "test"]
    kind = {node["unique_id"]: (node.get("test_metadata") or {}).get("name") for node in tests}
    plain = [node["name"] for node in tests if kind[node["unique_id"]] in ("expression_is_true", "accepted_values")]
    assert plain == [], "add these rules to the model's row_rules test"
    folded = [node["attached_node"] for node in tests if kind[node["unique_id"]] == "row_rules"]
    assert len(folded) >= 27 and len(folded) == len(set(folded))
