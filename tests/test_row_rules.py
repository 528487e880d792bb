"""The generic test row_rules (dbt_project/tests/generic/row_rules.sql): a model's expression and accepted-values
rules in one scan, instead of one dbt node (and two Dagster asset-check events) per
rule.

Its SQL is rendered with dbt's own Jinja environment and run on a small DuckDB table (no dbt build); the whole
warehouse build of the session runs it on real data.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from pipelines.reference import REPO_ROOT

DBT_PROJECT = REPO_ROOT / "dbt_project"
GENERIC_TEST = DBT_PROJECT / "tests" / "generic" / "row_rules.sql"


def row_rules_sql(model: str, rules: list[dict]) -> str:
    from dbt_common.clients.jinja import get_environment

    module = get_environment().from_string(GENERIC_TEST.read_text()).make_module()
    return str(module.dbt_macro__test_row_rules(model=model, rules=rules))


def failures(connection: duckdb.DuckDBPyConnection, rules: list[dict]) -> list[tuple]:
    return connection.sql(f"select * from ({row_rules_sql('t', rules)}) as failing order by 1").fetchall()


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


@pytest.fixture(scope="module")
def manifest() -> dict:
    from pipelines.dbt_resource import ensure_manifest

    return json.loads(ensure_manifest().read_text())


def test_expression_and_accepted_values_tests_are_folded_into_one_per_model(manifest):
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    kind = {node["unique_id"]: (node.get("test_metadata") or {}).get("name") for node in tests}
    plain = [node["name"] for node in tests if kind[node["unique_id"]] in ("expression_is_true", "accepted_values")]
    assert plain == [], "add these rules to the model's row_rules test"
    folded = [node["attached_node"] for node in tests if kind[node["unique_id"]] == "row_rules"]
    assert len(folded) >= 27 and len(folded) == len(set(folded))
