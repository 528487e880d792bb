"""One list of sources: the sources seed, the Python registry, the dbt vars and `_sources.yml` name the same ids.

Fast (no dbt): reads the files. `seeds/reference/sources.csv` is the list; every other place is checked against it,
and a missing `_sources.yml` entry fails with the entry to paste.
"""

from __future__ import annotations

import csv

import pytest
import yaml

from pipelines.reference import SEEDS_DIR
from pipelines.resources import DBT_PROJECT_DIR
from pipelines.sources import SOURCES

LIVE_FRESHNESS = {"warn_after": {"count": 36, "period": "hour"}, "error_after": {"count": 7, "period": "day"}}


def seed_rows() -> dict[str, dict[str, str]]:
    with (SEEDS_DIR / "sources.csv").open(newline="") as handle:
        return {row["source"]: row for row in csv.DictReader(handle)}


def dbt_vars() -> dict:
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def dbt_sources() -> dict[str, dict]:
    document = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())
    return {source["name"]: source for source in document["sources"]}


def loaded_at_query(source_id: str) -> str:
    return ("select coalesce(max(fetched_at), timestamptz '1970-01-01') from raw.fetch_log "
            f"where source = '{source_id}' and mode = 'live' and status = 'ok'")


def expected_entry(row: dict[str, str]) -> dict:
    """The `_sources.yml` entry of a seed row (descriptions are free text and not compared)."""
    source_id, kind = row["source"], row["kind"]
    config = ({"freshness": LIVE_FRESHNESS, "loaded_at_query": loaded_at_query(source_id)}
              if row["is_live"] == "true" else {"freshness": None})
    return {"name": source_id, "schema": "raw", "tables": [{
        "name": "observations", "identifier": f"{kind}_observations",
        "meta": {"dagster": {"asset_key": ["sources", source_id]}}, "config": config}]}


def without_descriptions(value):
    if isinstance(value, dict):
        return {key: without_descriptions(item) for key, item in value.items() if key != "description"}
    if isinstance(value, list):
        return [without_descriptions(item) for item in value]
    return value


def test_the_registry_names_the_seeds_sources_with_their_kinds():
    seed = seed_rows()
    assert set(SOURCES) == set(seed), "pipelines/sources/__init__.py SOURCES vs seeds/reference/sources.csv"
    assert {source_id: source.kind for source_id, source in SOURCES.items()} == {
        source_id: row["kind"] for source_id, row in seed.items()}


def test_the_dbt_vars_list_each_source_once_under_its_kind():
    seed, variables = seed_rows(), dbt_vars()
    for kind in ("gpu", "token"):
        listed = variables[f"{kind}_sources"]
        assert len(listed) == len(set(listed)), f"{kind}_sources lists an id twice"
        assert set(listed) == {source_id for source_id, row in seed.items() if row["kind"] == kind}, (
            f"dbt_project.yml vars {kind}_sources vs the {kind} rows of sources.csv")


def test_sources_yml_has_one_entry_per_source():
    seed, declared = seed_rows(), dbt_sources()
    assert set(declared) == set(seed), "dbt_project/models/staging/_sources.yml vs seeds/reference/sources.csv"


@pytest.mark.parametrize("source_id", sorted(seed_rows()))
def test_sources_yml_entry_reads_its_sources_rows(source_id):
    """Each entry points at its kind's raw table, links its Dagster asset and measures freshness on its own
    live fetches (none for a source that is never live)."""
    entry = expected_entry(seed_rows()[source_id])
    declared = dbt_sources().get(source_id)
    pasteable = yaml.safe_dump([entry], sort_keys=False, width=200)
    assert declared is not None, f"_sources.yml has no entry for {source_id}; add (with descriptions):\n{pasteable}"
    assert without_descriptions(declared) == entry, f"_sources.yml entry of {source_id} differs from:\n{pasteable}"
    assert declared.get("description") and declared["tables"][0].get("description")
