"""The Python normaliser and the dbt macro apply the same steps, and give the same aliases in DuckDB."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from pipelines.model_keys import STEPS, normalize_model_key

MACRO = Path(__file__).parents[1] / "dbt_project" / "macros" / "normalize_model_key.sql"
KEYS = {
    "together_ai/meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo": "meta-llama-3.1-405b-instruct-turbo",
    "anthropic.claude-3-haiku-20240307-v1:0": "claude-3-haiku",
    "us.meta.llama3-1-405b-instruct-v1:0": "llama3-1-405b-instruct",
    "gpt-4o-2024-05-13": "gpt-4o",
    "vertex_ai/claude-3-5-sonnet@20240620": "claude-3-5-sonnet",
    "gpt-4-0613": "gpt-4",
    "openai/gpt-4o:free": "gpt-4o",
    "deepseek/deepseek-chat": "deepseek-chat",
    "deepseek-v3": "deepseek-v3",
    "mistral-large-2407": "mistral-large-2407",
    "anthropic.claude-v2:1": "claude-v2",
    "claude-sonnet-4-20250514": "claude-sonnet-4",
}


def macro_steps() -> list[tuple[str, str]]:
    text = MACRO.read_text()
    return [(pattern.replace("\\\\", "\\"), replacement)
            for pattern, replacement in re.findall(r"\('((?:[^'\\]|\\.)*)', '([^']*)'\)", text)]


def test_macro_and_python_list_the_same_steps():
    assert macro_steps() == list(STEPS)


@pytest.mark.parametrize(("key", "alias"), KEYS.items())
def test_python_normaliser(key, alias):
    assert normalize_model_key(key) == alias


def test_duckdb_applies_the_steps_like_python():
    expression = "lower(trim(k))"
    for pattern, replacement in macro_steps():
        expression = f"regexp_replace({expression}, '{pattern}', '{replacement}')"
    with duckdb.connect() as connection:
        rows = connection.execute(f"select k, {expression} from unnest(?) as t(k)", [list(KEYS)]).fetchall()
    assert {key: alias for key, alias in rows} == {key: normalize_model_key(key) for key in KEYS}
