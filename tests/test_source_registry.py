"""One list of sources: the sources seed. The Python registry is checked against it, and the dbt side is generated
from it (pipelines/dbt_sources.py, run by `make manifest`): `_sources.yml` and the source-id macros.

Fast (no dbt): reads the files. A committed generated file that differs from what the seed gives now fails with
"run make manifest".
"""

from __future__ import annotations

import csv
import re

import pytest
import yaml

from pipelines import dbt_sources
from pipelines.dbt_resource import DBT_PROJECT_DIR
from pipelines.reference import REPO_ROOT, SEEDS_DIR
from pipelines.sources import SOURCES

LIVE_FRESHNESS = {"warn_after": {"count": 36, "period": "hour"}, "error_after": {"count": 7, "period": "day"}}


def seed_rows() -> dict[str, dict[str, str]]:
    with (SEEDS_DIR / "sources.csv").open(newline="") as handle:
        return {row["source"]: row for row in csv.DictReader(handle)}


def dbt_sources_yml() -> dict[str, dict]:
    document = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())
    return {source["name"]: source for source in document["sources"]}


def loaded_at_query(source_id: str) -> str:
    return ("select coalesce(max(fetched_at), timestamptz '1970-01-01') from raw.fetch_log "
            f"where source = '{source_id}' and mode = 'live' and status = 'ok'")


def expected_entry(row: dict[str, str]) -> dict:
    """The `_sources.yml` entry of a seed row (descriptions aside)."""
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


@pytest.mark.parametrize("path", list(dbt_sources.generated_files()),
                         ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_the_generated_dbt_files_are_current(path):
    expected = dbt_sources.generated_files()[path]
    assert path.exists() and path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(REPO_ROOT)} is not what seeds/reference/sources.csv gives now: run make manifest "
        "(python -m pipelines.dbt_sources) and commit it")


def test_sources_yml_has_one_entry_per_source_in_the_seeds_order():
    assert list(dbt_sources_yml()) == list(seed_rows()), (
        "dbt_project/models/staging/_sources.yml vs seeds/reference/sources.csv")


@pytest.mark.parametrize("source_id", sorted(seed_rows()))
def test_sources_yml_entry_reads_its_sources_rows(source_id):
    """Each entry points at its kind's raw table, links its Dagster asset and measures freshness on its own
    live fetches (none for a source that is never live); its description is its class's (as its Dagster asset's)."""
    declared = dbt_sources_yml()[source_id]
    assert without_descriptions(declared) == expected_entry(seed_rows()[source_id])
    assert declared["description"] == SOURCES[source_id].description
    assert declared["tables"][0]["description"].startswith(f"The {source_id} rows of raw.")


def test_the_source_id_macros_list_each_kinds_sources_in_the_seeds_order():
    text = dbt_sources.SOURCE_IDS_MACRO.read_text()
    for kind in ("gpu", "token"):
        ids = [source_id for source_id, row in seed_rows().items() if row["kind"] == kind]
        listed = ", ".join(f"'{source_id}'" for source_id in ids)
        assert f"{{% macro {kind}_source_ids() %}}{{{{ return(var('{kind}_sources', [{listed}])) }}}}" in text


def test_no_hand_written_source_list_in_dbt():
    """dbt_project.yml sets no source-list var (it would override the generated lists), and models and macros
    take their sources from the generated macros, not from the vars."""
    project_vars = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert not {"gpu_sources", "token_sources"} & set(project_vars), (
        "dbt_project.yml vars: drop gpu_sources / token_sources (macros/generated_source_ids.sql lists them)")
    pattern = re.compile(r"""var\(\s*['"](gpu|token)_sources['"]""")
    readers = [path.relative_to(DBT_PROJECT_DIR).as_posix()
               for folder in ("models", "macros") for path in (DBT_PROJECT_DIR / folder).rglob("*.sql")
               if path != dbt_sources.SOURCE_IDS_MACRO and pattern.search(path.read_text())]
    assert not readers, f"use gpu_source_ids() / token_source_ids() / source_ids() instead of the vars in {readers}"


def test_a_new_seed_row_is_all_the_dbt_side_needs():
    rows = [*seed_rows().values(), {"source": "example", "kind": "token", "is_live": "false"}]
    descriptions = {**{source_id: source.description for source_id, source in SOURCES.items()},
                    "example": 'An "example" source.'}
    declared = {source["name"]: source
                for source in yaml.safe_load(dbt_sources.render_sources_yml(rows, descriptions))["sources"]}
    assert without_descriptions(declared["example"]) == expected_entry(rows[-1])
    assert declared["example"]["description"] == 'An "example" source.'
    token_ids = ", ".join(f"'{row['source']}'" for row in rows if row["kind"] == "token")
    assert f"var('token_sources', [{token_ids}])" in dbt_sources.render_source_ids_macro(rows)
    assert token_ids.endswith("'example'")


def test_the_generator_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind 'audio'"):
        dbt_sources.render_source_ids_macro([{"source": "example", "kind": "audio", "is_live": "true"}])
