"""`dbt build` of the project's models against a synthetic warehouse, timed.

The staging models select rows per source id through ``source(<id>, 'observations')``, so a source id must be a
declared dbt source. The synthetic ids (``synthetic_*``) are not declared in dbt_project/ (and must not be), so
the bench builds a *copy* of dbt_project/ taken at the start of the run (models, macros, tests, seeds through a
symlink to ../seeds) with one extra file, ``models/staging/_bench_synthetic_sources.yml``, declaring the two
synthetic sources. ``--vars`` then points each kind's source list at them: the models take their sources from the
macros ``gpu_source_ids()`` / ``token_source_ids()`` (generated from the sources seed by ``pipelines.dbt_sources``),
which return the var ``gpu_sources`` / ``token_sources`` when it is set, so ``{"gpu_sources": ["synthetic_skypilot"],
"token_sources": ["synthetic_litellm"]}`` replaces them. The SQL that runs is the project's own; only the source
list differs. The copy also keeps the bench's dbt target/ and logs away from the
real project's (other runs use dbt_project/target).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.generate import GPU_SOURCE, REPO, TOKEN_SOURCE
from pipelines import dbt_state

DBT_PROJECT = REPO / "dbt_project"
DBT = REPO / ".venv" / "bin" / "margins-dbt"  # what the refresh runs (pipelines.dbt_process)
SOURCES_YML = f"""\
version: 2
# Written by bench/dbt_bench.py into a throw-away copy of the project: the SYNTHETIC benchmark sources.
sources:
  - name: {GPU_SOURCE}
    schema: raw
    description: "SYNTHETIC GPU offers (bench/generate.py); never real data."
    tables:
      - name: observations
        identifier: gpu_observations
  - name: {TOKEN_SOURCE}
    schema: raw
    description: "SYNTHETIC token prices (bench/generate.py); never real data."
    tables:
      - name: observations
        identifier: token_observations
"""


def bench_vars(project: Path) -> str:
    """``--vars`` JSON: each kind's source list (the var its generated macro reads, pipelines.dbt_sources) pointed
    at the synthetic source of that kind."""
    from pipelines.dbt_sources import KINDS, SOURCE_IDS_MACRO, ids_var

    synthetic = {"gpu": GPU_SOURCE, "token": TOKEN_SOURCE}
    macro = project / "macros" / SOURCE_IDS_MACRO.name
    text = macro.read_text() if macro.exists() else ""
    missing = [kind for kind in KINDS if f"var('{ids_var(kind)}'" not in text]
    if missing:
        raise RuntimeError(f"{macro} does not read the var(s) {', '.join(ids_var(kind) for kind in missing)}: "
                           "cannot point dbt at the synthetic sources")
    return json.dumps({ids_var(kind): [synthetic[kind]] for kind in KINDS})


@dataclass
class BuildResult:
    label: str
    wall_s: float
    dbt_elapsed_s: float | None
    ok: bool
    statuses: dict[str, int] = field(default_factory=dict)
    slowest: list[tuple[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    timed_out: bool = False


def prepare_project(workdir: Path) -> Path:
    """A copy of dbt_project/ (plus the synthetic sources) under ``workdir``; returns its project dir."""
    project = workdir / "project" / "dbt_project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(DBT_PROJECT, project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml", "*.duckdb"))
    seeds = workdir / "project" / "seeds"
    if not seeds.exists():
        seeds.symlink_to(REPO / "seeds", target_is_directory=True)
    (project / "models" / "staging" / "_bench_synthetic_sources.yml").write_text(SOURCES_YML)
    return project


def has_incremental_models(project: Path) -> bool:
    """Whether any model is materialized incrementally (then a +1 day build is no longer a full rebuild). The
    daily marts take their config from a macro (``incremental_by_day``), so the macros are read too."""
    pattern = re.compile(r"materialized\s*[=:]\s*['\"]?incremental")
    files = [project / "dbt_project.yml", *(project / "models").rglob("*.sql"), *(project / "models").rglob("*.yml"),
             *(project / "macros").rglob("*.sql")]
    return any(pattern.search(path.read_text(errors="replace")) for path in files if path.is_file())


def build(project: Path, database: Path, label: str, timeout_s: float | None = None,
          full_refresh: bool = False) -> BuildResult:
    """`dbt build --exclude-resource-type unit_test` of every model, seed and test into ``database``
    (``--full-refresh`` for the naive full rebuild, which rebuilds incremental models from scratch; an incremental
    build leaves out the structural tests, as the refresh does)."""
    target = project / "target"
    pin_as_of(database)
    env = {**os.environ, "MARGINS_WORK_DB": str(database), "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "0"}
    command = [str(DBT), "build", "--exclude-resource-type", "unit_test", "--project-dir", str(project),
               "--profiles-dir", str(project), "--target-path", str(target), "--vars", bench_vars(project), "--quiet"]
    # the same command as the refresh's dbt step (pipelines/assets/warehouse.py)
    command += ["--full-refresh"] if full_refresh else dbt_state.INCREMENTAL_BUILD_EXCLUDES
    results_file = target / "run_results.json"
    if results_file.exists():
        results_file.unlink()
    started = time.perf_counter()
    timed_out = False
    try:
        completed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout_s)
        output = completed.stdout + completed.stderr
        returncode = completed.returncode
    except subprocess.TimeoutExpired as expired:
        timed_out, returncode = True, -1
        partial = expired.stdout or ""
        output = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
    wall = time.perf_counter() - started
    result = BuildResult(label=label, wall_s=wall, dbt_elapsed_s=None, ok=returncode == 0, timed_out=timed_out)
    if results_file.exists():
        results = json.loads(results_file.read_text())
        result.dbt_elapsed_s = results.get("elapsed_time")
        for item in results["results"]:
            result.statuses[item["status"]] = result.statuses.get(item["status"], 0) + 1
            if item["status"] in ("error", "fail"):
                result.failures.append(f"{item['unique_id']}: {(item.get('message') or '')[:160]}")
        timings = sorted(((item["unique_id"].split(".", 2)[-1], item["execution_time"])
                          for item in results["results"]), key=lambda pair: -pair[1])
        result.slowest = timings[:8]
        (project.parent / f"run_results_{label}.json").write_text(results_file.read_text())
    if not result.ok and not result.failures:
        result.failures.append(output.strip()[-600:])
    return result


def pin_as_of(database: Path) -> None:
    """Build the synthetic warehouse as of its newest snapshot's day, as a refresh on that day would (the as-of day
    lives in raw.build_as_of; without it dbt would build as of today and carry every price forward to it)."""
    import duckdb

    with duckdb.connect(str(database)) as connection:
        day = connection.execute(
            "select cast(timezone('UTC', max(observed_at)) as date) from raw.snapshots").fetchone()[0]
        connection.execute("create or replace table raw.build_as_of as select ?::date as as_of", [day])


def parse(project: Path, database: Path) -> None:
    """`dbt parse` once (untimed), so every timed build starts from the same partial-parse state."""
    env = {**os.environ, "MARGINS_WORK_DB": str(database), "DO_NOT_TRACK": "1"}
    subprocess.run([str(DBT), "parse", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project),
                    "--target-path", str(project / "target"), "--vars", bench_vars(project)],
                   cwd=project, env=env, check=True, capture_output=True)


SIGNIFICANT_DIGITS = 10


def compare_marts(left: Path, right: Path) -> dict[str, dict[str, int]]:
    """Rows that differ (both directions, EXCEPT ALL) per marts table between two warehouses: ``exact``, and
    ``tolerant`` with every double/float column rounded to 10 significant digits first (a sum or avg of
    doubles depends on the order DuckDB's threads add them in, which differs in the last bits between an
    incremental and a full build)."""
    import duckdb

    differences = {}
    with duckdb.connect() as connection:
        connection.execute("set enable_progress_bar = false")
        connection.execute(f"attach '{left}' as a (read_only)")
        connection.execute(f"attach '{right}' as b (read_only)")
        tables = [row[0] for row in connection.execute(
            "select table_name from duckdb_tables() where database_name = 'a' and schema_name = 'marts' "
            "order by table_name").fetchall()]
        for table in tables:
            columns = connection.execute(
                "select column_name, data_type from duckdb_columns() where database_name = 'a' "
                "and schema_name = 'marts' and table_name = ? order by column_index", [table]).fetchall()
            quoted = [('"' + name.replace('"', '""') + '"', data_type) for name, data_type in columns]
            rounded = ", ".join(
                f"case when {name} is null or {name} = 0 or not isfinite({name}) then {name} "
                f"else round({name}, {SIGNIFICANT_DIGITS} - 1 - floor(log10(abs({name})))::integer) end as {name}"
                if data_type in ("DOUBLE", "FLOAT") else name for name, data_type in quoted)
            counts = {}
            for label, select in (("exact", "*"), ("tolerant", rounded)):
                left_only = f"select {select} from a.marts.{table} except all select {select} from b.marts.{table}"
                right_only = f"select {select} from b.marts.{table} except all select {select} from a.marts.{table}"
                counts[label] = connection.execute(
                    f"select (select count(*) from ({left_only})) + (select count(*) from ({right_only}))"
                ).fetchone()[0]
                if not counts[label]:
                    counts.setdefault("tolerant", 0)
                    break
            differences[table] = counts
    return differences
