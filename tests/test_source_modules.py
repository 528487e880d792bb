"""The source registry is found, not listed: each source's module plus its row in ``seeds/reference/sources.csv``.

Fast (no warehouse): checks how ``pipelines.sources`` discovers the ``Source`` subclasses and checks them against the
seed, that URL and API key variables follow ``MARGINS_<ID>_URL`` / ``MARGINS_<ID>_API_KEY``, and that the README's
environment table states each source's real default URL.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from pipelines import github
from pipelines.reference import REPO_ROOT, source_ids
from pipelines.settings import Settings, api_key_variable, url_variable
from pipelines.sources import SOURCES, SourceRegistryError, build_registry, source_classes
from pipelines.sources.base import Source


def seed_row(source_id: str, kind: str = "gpu") -> dict[str, str]:
    return {"source": source_id, "kind": kind}


def a_source(source_id: str, source_kind: str = "gpu") -> type[Source]:
    class Example(Source):
        id = source_id
        kind = source_kind
        description = "test"

        def fetch(self, settings, http, previous):
            yield from ()

        def parse(self, payload):
            raise NotImplementedError

    return Example


# --- the registry ---------------------------------------------------------------------------------------------------

def test_the_registry_holds_one_instance_per_seed_row_in_the_seeds_order():
    assert tuple(SOURCES) == source_ids()
    assert all(isinstance(source, Source) and source.id == source_id for source_id, source in SOURCES.items())


def test_a_new_module_in_the_package_is_found_without_a_list_to_edit(tmp_path, monkeypatch):
    package = tmp_path / "more_sources"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("SHARED = 1\n")  # a module without a source is not one
    (package / "example.py").write_text(textwrap.dedent("""
        from pipelines.sources.base import Source
        from pipelines.sources.litellm import LiteLLMSource  # imported, not defined here: not this module's source

        class ExampleSource(Source):
            id = "example"
            kind = "token"
            description = "an example"
            default_url = "https://example.invalid/api"

            def fetch(self, settings, http, previous):
                yield from ()

            def parse(self, payload):
                raise NotImplementedError
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    classes = source_classes("more_sources")
    assert [cls.id for cls in classes] == ["example"]
    registry = build_registry(classes, [seed_row("example", "token")])
    assert list(registry) == ["example"]
    assert registry["example"].url(Settings(data_dir=tmp_path)) == "https://example.invalid/api"


def test_a_source_without_a_seed_row_fails_naming_the_seed():
    with pytest.raises(SourceRegistryError, match=r"source 'extra' .* has no row in seeds/reference/sources\.csv"):
        build_registry([a_source("known"), a_source("extra")], [seed_row("known")])


def test_a_seed_row_without_a_module_fails_naming_the_row():
    with pytest.raises(SourceRegistryError, match=r"sources\.csv row 'orphan' has no Source subclass"):
        build_registry([a_source("known")], [seed_row("known"), seed_row("orphan")])


def test_a_kind_other_than_the_seeds_fails():
    with pytest.raises(SourceRegistryError, match=r"'known' .* has kind 'token', its row .* says 'gpu'"):
        build_registry([a_source("known", "token")], [seed_row("known", "gpu")])


def test_two_classes_with_one_id_fail():
    with pytest.raises(SourceRegistryError, match=r"both have id 'twice'"):
        build_registry([a_source("twice"), a_source("twice")], [seed_row("twice")])


def test_the_registry_follows_the_seeds_order_not_the_modules():
    registry = build_registry([a_source("b"), a_source("a")], [seed_row("a"), seed_row("b")])
    assert list(registry) == ["a", "b"]


# --- URL and API key variables ----------------------------------------------------------------------------------

def test_a_url_variable_overrides_the_sources_default(monkeypatch, tmp_path):
    for source_id in SOURCES:
        monkeypatch.delenv(url_variable(source_id), raising=False)
    monkeypatch.setenv("MARGINS_LITELLM_URL", "http://127.0.0.1:9/prices.json/")
    settings = Settings.from_env(data_dir=tmp_path)
    assert SOURCES["litellm"].url(settings) == "http://127.0.0.1:9/prices.json"
    assert SOURCES["openrouter"].url(settings) == SOURCES["openrouter"].default_url
    assert SOURCES["openrouter"].url(Settings(data_dir=tmp_path)) == "https://openrouter.ai/api/v1/models"
    replaced = Settings(data_dir=tmp_path, urls={**settings.urls, "aws": "http://mirror"})
    assert SOURCES["aws"].url(replaced) == "http://mirror"
    assert SOURCES["litellm"].url(replaced) == "http://127.0.0.1:9/prices.json"


def test_a_name_without_a_default_or_override_names_its_variable(tmp_path):
    with pytest.raises(KeyError, match="MARGINS_NOWHERE_URL"):
        Settings(data_dir=tmp_path).url("nowhere")


def test_api_key_variables_follow_one_rule_with_github_the_exception():
    assert [api_key_variable(source_id) for source_id in ("gcp", "lambda", "runpod", "vast", "openrouter")] == [
        "MARGINS_GCP_API_KEY", "MARGINS_LAMBDA_API_KEY", "MARGINS_RUNPOD_API_KEY", "MARGINS_VAST_API_KEY",
        "MARGINS_OPENROUTER_API_KEY"]
    assert api_key_variable("github") == "GITHUB_TOKEN"
    assert [url_variable(name) for name in ("lambda", "github_api")] == ["MARGINS_LAMBDA_URL", "MARGINS_GITHUB_API_URL"]


def readme_environment() -> dict[str, str]:
    """Variable -> its stated default, from the README's Environment table (cells like ``a` / `b``)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Environment", 1)[1].split("\n## ", 1)[0]
    stated = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        names, defaults = cells[0].split(" / "), cells[1].split(" / ")
        if len(names) == len(defaults):
            stated |= {name.strip("`"): default.strip("`") for name, default in zip(names, defaults, strict=True)
                       if "<" not in name}  # the generic MARGINS_<SOURCE>_… row
    return stated


def test_the_readme_states_each_listed_url_and_key_variable_truly():
    """Not every source must be listed (the generic MARGINS_<SOURCE>_URL row covers a new one), but what is listed
    is what the code reads and defaults to."""
    stated = readme_environment()
    defaults = {**{url_variable(source_id): source.default_url for source_id, source in SOURCES.items()},
                "MARGINS_GITHUB_API_URL": github.DEFAULT_API_URL, "MARGINS_GITHUB_RAW_URL": github.DEFAULT_RAW_URL}
    urls = {name: default for name, default in stated.items() if re.fullmatch(r"MARGINS_[A-Z0-9_]+_URL", name)}
    assert urls, "the README's Environment table lists no URL variable"
    for name, default in urls.items():
        assert name in defaults, f"README lists {name}, which nothing reads"
        assert default == defaults[name], f"README: {name} defaults to {default}, the code to {defaults[name]}"
    keys = [name for name in stated if name.endswith("_API_KEY") or name == "GITHUB_TOKEN"]
    known = {api_key_variable(name) for name in (*SOURCES, "github")}
    assert keys and set(keys) <= known, f"README lists key variables nothing reads: {set(keys) - known}"
