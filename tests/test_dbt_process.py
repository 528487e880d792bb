"""`margins-dbt` (pipelines.dbt_process): dbt's CLI that reuses the Jinja code earlier dbt processes compiled
(pipelines.jinja_code_cache) and fires no debug event that no log keeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from dbt_common.clients.jinja import get_environment

from pipelines import jinja_code_cache
from pipelines.dbt_process import DUCKDB_THREADS_ENV
from pipelines.dbt_resource import DBT_PROJECT_DIR, dbt_executable
from tests.conftest import hand_over_dbt_parse, json_lines

# A process like `margins-dbt`: the cache installed, then dbt's Jinja renders; it prints what it rendered and how many
# templates Jinja itself had to compile.
_RENDER = """
import json, sys
import jinja2
compiled = []
compile_template = jinja2.Environment.compile
def counting(self, source, *args, **kwargs):
    compiled.append(source)
    return compile_template(self, source, *args, **kwargs)
jinja2.Environment.compile = counting
from pathlib import Path
from pipelines import jinja_code_cache
jinja_code_cache.install(Path(sys.argv[1]))
from dbt_common.clients.jinja import get_template, render_template
context = {"rows": [1, 2, 3], "name": "margins"}
rendered = [render_template(get_template(source, context, native=native), context)
            for source, native in json.loads(sys.argv[2])]
print(json.dumps({"rendered": rendered, "compiled": len(compiled)}))
"""
TEMPLATES = [
    ["select {{ rows | length }} as n, '{{ name | upper }}' as name", False],
    ["{% for row in rows %}{{ row * 2 }}{% if not loop.last %},{% endif %}{% endfor %}", False],
    ["{{ rows | sum }}", True],   # dbt's native environment: another code generator, another key
]


def render_in_new_process(cache_dir: Path, templates: list) -> dict:
    result = subprocess.run([sys.executable, "-c", _RENDER, str(cache_dir), json.dumps(templates)],
                            capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)


def test_a_second_dbt_process_renders_the_same_without_compiling(tmp_path) -> None:
    first = render_in_new_process(tmp_path, TEMPLATES)
    assert first["compiled"] == len(TEMPLATES)
    assert first["rendered"] == ["select 3 as n, 'MARGINS' as name", "2,4,6", 6]
    cache = jinja_code_cache.cache_file(tmp_path)
    saved = cache.stat().st_mtime_ns

    second = render_in_new_process(tmp_path, TEMPLATES)
    assert second == {"rendered": first["rendered"], "compiled": 0}
    assert cache.stat().st_mtime_ns == saved   # nothing new, nothing written

    third = render_in_new_process(tmp_path, TEMPLATES + [["{{ name ~ '!' }}", False]])
    assert third["compiled"] == 1   # only the new template; it is added to the file
    assert render_in_new_process(tmp_path, TEMPLATES + [["{{ name ~ '!' }}", False]])["compiled"] == 0


def test_a_damaged_or_foreign_cache_file_is_ignored_and_replaced(tmp_path) -> None:
    cache = jinja_code_cache.cache_file(tmp_path)
    cache.write_bytes(b"\x00not marshal data" * 10)
    first = render_in_new_process(tmp_path, TEMPLATES)
    assert first["compiled"] == len(TEMPLATES) and first["rendered"][2] == 6
    assert render_in_new_process(tmp_path, TEMPLATES)["compiled"] == 0


def test_the_key_depends_on_the_environment_as_well_as_the_text() -> None:
    source = "{{ rows | length }}"
    text, native = get_environment(), get_environment(native=True)
    assert jinja_code_cache._key(text, source, None, None, False) == \
        jinja_code_cache._key(get_environment(), source, None, None, False)
    assert jinja_code_cache._key(text, source, None, None, False) != \
        jinja_code_cache._key(native, source, None, None, False)
    assert jinja_code_cache._key(text, source, None, None, False) != \
        jinja_code_cache._key(text, source, "a_macro", None, False)
    with_filter = get_environment()
    with_filter.filters["shout"] = str.upper
    assert jinja_code_cache._key(with_filter, source, None, None, False) != \
        jinja_code_cache._key(text, source, None, None, False)


def run_margins_dbt(target: Path, database: Path, *args: str,
                    environment: Mapping[str, str] = os.environ) -> subprocess.CompletedProcess:
    """`margins-dbt --log-format json ARGS` on ``database``, with its own target and log folder ``target``."""
    return subprocess.run(
        [dbt_executable(), "--log-format", "json", *args, "--project-dir", ".", "--profiles-dir", ".",
         "--target-path", str(target), "--log-path", str(target)],
        cwd=DBT_PROJECT_DIR, env={**environment, "MARGINS_WORK_DB": str(database)}, capture_output=True, text=True,
        check=True, timeout=120)


def dbt_ls_logs(tmp_path: Path, stdout_level: str, file_level: str) -> tuple[list[dict], list[dict]]:
    """`margins-dbt ls` of one model: the events on its stdout and in its dbt.log, each log at the level given (JSON
    lines, as in a refresh: dagster-dbt sets dbt's log format)."""
    target = tmp_path / f"{stdout_level}-{file_level}"
    database = tmp_path / "margins.duckdb"
    hand_over_dbt_parse(database, target)
    result = run_margins_dbt(target, database, "--log-level", stdout_level, "--log-level-file", file_level,
                             "ls", "--select", "stg_fetch_log")
    return json_lines(result.stdout), json_lines((target / "dbt.log").read_text())


def levels(events: list[dict]) -> set[str]:
    return {event["info"]["level"] for event in events}


def test_debug_lines_reach_a_log_at_debug_level_and_no_other(tmp_path) -> None:
    stdout, file_log = dbt_ls_logs(tmp_path, stdout_level="info", file_level="debug")
    assert levels(stdout) == {"info"} and {"debug", "info"} <= levels(file_log)
    assert any(event["data"].get("msg") == "inference_margins.staging.stg_fetch_log" for event in stdout)

    stdout, file_log = dbt_ls_logs(tmp_path, stdout_level="debug", file_level="info")
    assert {"debug", "info"} <= levels(stdout) and levels(file_log) == {"info"}


# Events made as dbt makes them, in a process with `margins-dbt`'s event change and in one without: which built a
# protobuf message when made, and each event's JSON (what a log line carries), read after a field was set.
_EVENTS = """
import json, sys
if sys.argv[1] == "lazy":
    from pipelines.dbt_process import build_event_messages_when_read
    build_event_messages_when_read()
from dbt.adapters.events.types import SQLQuery, SQLQueryStatus
from dbt.events.types import MainReportVersion
events = [SQLQuery(conn_name="model.x", sql="select 1", node_info={}), SQLQueryStatus(status="OK", elapsed=0.25),
          MainReportVersion(version="1.11", log_version=3)]
built_when_made = ["pb_msg" in vars(event) for event in events]
events[0].sql = "select 2"
print(json.dumps({"built_when_made": built_when_made, "json": [event.to_json() for event in events],
                  "messages": [event.message() for event in events]}))
"""


def made_events(mode: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _EVENTS, mode], capture_output=True, text=True, check=True,
                            timeout=120)
    return json.loads(result.stdout)


def test_an_event_builds_its_message_when_read_and_the_same_message_as_dbt() -> None:
    dbt_own, lazy = made_events("dbt"), made_events("lazy")
    assert dbt_own["built_when_made"] == [True, True, True]
    assert lazy["built_when_made"] == [False, False, False]
    assert lazy["json"] == dbt_own["json"] and lazy["messages"] == dbt_own["messages"]
    assert '"sql": "select 2"' in lazy["json"][0]


def duckdb_threads_in_dbt(tmp_path: Path, environment: dict[str, str]) -> int:
    """DuckDB's thread count in a `margins-dbt show` run with ``environment``, given the parse handed over as a
    refresh hands it over in that environment (dbt must reuse it: the profile hashes alike on both sides)."""
    target = tmp_path / f"threads-{environment.get(DUCKDB_THREADS_ENV, 'unset')}"
    database = tmp_path / "margins.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(DUCKDB_THREADS_ENV, raising=False)
        if DUCKDB_THREADS_ENV in environment:
            patch.setenv(DUCKDB_THREADS_ENV, environment[DUCKDB_THREADS_ENV])
        hand_over_dbt_parse(database, target)
    result = run_margins_dbt(target, database, "show", "--inline", "select current_setting('threads') as threads",
                             "--output", "json", environment=environment)
    assert "Unable to do partial parsing" not in result.stdout
    preview = next(event["data"]["preview"] for event in json_lines(result.stdout) if "preview" in event["data"])
    return json.loads(preview)[0]["threads"]


def test_duckdb_runs_one_thread_per_core_unless_the_variable_says_otherwise(tmp_path) -> None:
    unset = {key: value for key, value in os.environ.items() if key != DUCKDB_THREADS_ENV}
    assert duckdb_threads_in_dbt(tmp_path, unset) == len(os.sched_getaffinity(0))   # not the profile's fallback, 1
    assert duckdb_threads_in_dbt(tmp_path, {**unset, DUCKDB_THREADS_ENV: "1"}) == 1   # as the test suite runs it
