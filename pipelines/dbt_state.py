"""When the dbt project itself changes, the incremental marts are rebuilt in full.

Incremental models rebuild only the days that new snapshots touch (dbt_project/macros/incremental_window.sql).
A changed model, macro or seed (e.g. a new row in model_aliases) can change every day, so the build after such a
change runs with ``--full-refresh``, and so does a build as of an earlier day than the last one. What the last
successful build read (the project's fingerprint, its as-of day, a summary of the raw tables) is one record beside
the working database, ``work/last_build.json``; a missing record (a new or moved warehouse, one rebuilt from its
landing files) also means a full build.

The project's files are listed once here: ``PROJECT_FILES`` (what the fingerprint covers: what can change the
data) and ``PARSED_FILES`` (everything ``dbt parse`` reads, so a manifest older than any of them is stale).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb

from pipelines.reference import REPO_ROOT as ROOT
from pipelines.settings import Settings

# An incremental build runs only when the project and its seeds are those of the last successful build (else it is a
# full refresh), so it leaves out what cannot have changed: the seeds and the tests of seeds alone (a test of a model
# against a seed still runs: "cautious" keeps a test whose selected parents are all selected), and the tests of the
# SQL's structure rather than the data (they recompute a whole history view; full builds and `make test` run them).
STRUCTURAL_TAG = "structural"
INCREMENTAL_BUILD_EXCLUDES = ["--exclude", f"tag:{STRUCTURAL_TAG} resource_type:seed",
                              "--indirect-selection", "cautious"]


def left_out_of_incremental_builds(test_node: dict) -> bool:
    """A dbt test an incremental build does not run (see INCREMENTAL_BUILD_EXCLUDES)."""
    parents = test_node.get("depends_on", {}).get("nodes", [])
    return STRUCTURAL_TAG in test_node.get("tags", []) or (
        bool(parents) and all(parent.startswith("seed.") for parent in parents))


# (folder, glob) under the repository root
PROJECT_FILES = (
    ("dbt_project", "dbt_project.yml"),
    ("dbt_project/models", "**/*"),
    ("dbt_project/macros", "**/*"),
    ("seeds/reference", "*.csv"),
)
PARSED_FILES = (
    *PROJECT_FILES,
    ("dbt_project", "*.yml"),            # profiles.yml, packages: a changed profile also makes dbt re-parse
    ("dbt_project/tests", "**/*"),
    ("seeds/reference", "*.yml"),
)
# Files of older versions that held parts of the last build's record (see last_build): removed when it is written.
_LEGACY_RECORDS = ("dbt_project.fingerprint", "as_of")


class ManifestError(RuntimeError):
    """The dbt manifest the code location needs is missing or older than the dbt project (raised where the code
    location loads, pipelines.dbt_resource; here so the CLI can name it without importing dagster-dbt)."""


def project_files(patterns: tuple[tuple[str, str], ...] = PROJECT_FILES, root: Path = ROOT) -> list[Path]:
    """The files matching ``patterns``: pattern by pattern, each one's files sorted, none twice."""
    files = {path: None for folder, pattern in patterns for path in sorted((root / folder).glob(pattern))
             if path.is_file()}
    return list(files)


def project_fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in project_files(PROJECT_FILES, root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def newest_parsed_file(root: Path = ROOT) -> float:
    """The modification time of the newest file ``dbt parse`` reads."""
    return max((path.stat().st_mtime for path in project_files(PARSED_FILES, root)), default=0.0)


def last_build(settings: Settings) -> dict[str, str] | None:
    """What the last successful build read (``build_inputs``), or None when no build is recorded."""
    try:
        recorded = json.loads(_built_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def last_build_as_of(settings: Settings) -> date | None:
    """The as-of day of the last successful build, if recorded."""
    try:
        return date.fromisoformat((last_build(settings) or {})["as_of"])
    except (KeyError, TypeError, ValueError):
        return None


def needs_full_refresh(settings: Settings, fingerprint: str | None = None) -> bool:
    """True unless the last successful build used exactly this project (models, macros, seeds) and an as-of day
    no later than this build's. A warehouse whose last build is not recorded in ``last_build.json`` (a new one,
    one rebuilt from its landing files, or one an older version built) gets a full build."""
    recorded = last_build(settings)
    last_as_of = last_build_as_of(settings)
    same_project = (recorded is not None and settings.working_db.exists()
                    and recorded.get("project") == (fingerprint or project_fingerprint()))
    return not same_project or last_as_of is None or settings.as_of < last_as_of


def record_build_as_of(settings: Settings) -> None:
    """Write the as-of day the next `dbt build` uses into the working database (raw.build_as_of, read by the
    as_of_day() macro). A table, not a dbt var: a var that changes daily would make dbt re-parse every refresh."""
    settings.working_db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.working_db)) as connection:
        connection.execute("create schema if not exists raw")
        connection.execute("create or replace table raw.build_as_of as select ?::date as as_of",
                           [settings.as_of.isoformat()])


# --- a refresh costs what changed -------------------------------------------------------------------------------
# The dbt build and the publish are skipped when the published copy was built from exactly the current inputs: the
# same dbt project and seeds, the same as-of day, and the same raw data. Reloading bundled snapshots that are already
# stored and skipped attempts (offline, no API key) are not new data; any new snapshot, payload, quarantined row or
# live/backfill fetch (successful or failed: a failure changes source_status) is.
RAW_STATE_SQL = """
    select (select count(*) || '/' || coalesce(max(landed_at)::varchar, '') from raw.snapshots),
           (select count(*) from raw.payloads),
           (select count(*) from raw.quarantine),
           (select count(*) from raw.gpu_observations),
           (select count(*) from raw.token_observations),
           (select count(*) || '/' || coalesce(max(fetched_at)::varchar, '') from raw.fetch_log
            where mode <> 'bundled' and status <> 'skipped')
"""


def build_inputs(settings: Settings, fingerprint: str | None = None) -> dict[str, str]:
    """What a build reads: the project's fingerprint, the as-of day and a summary of the raw tables."""
    if not settings.working_db.exists():
        raw: tuple = ()
    else:
        with duckdb.connect(str(settings.working_db), read_only=True) as connection:
            raw = connection.execute(RAW_STATE_SQL).fetchone()
    return {"project": fingerprint or project_fingerprint(), "as_of": settings.as_of.isoformat(),
            "raw": "|".join(str(value) for value in raw)}


def _built_file(settings: Settings) -> Path:
    return settings.working_db.with_name("last_build.json")


def _published_file(settings: Settings) -> Path:
    return settings.working_db.with_name("last_publish.json")


def record_built(settings: Settings, inputs: dict[str, str]) -> None:
    """After a successful dbt build: the inputs the working database now reflects. Pass the inputs taken before
    the build started, so a file edited during the build still triggers a full refresh next time."""
    _built_file(settings).write_text(json.dumps(inputs, indent=1) + "\n")
    for name in _LEGACY_RECORDS:
        settings.working_db.with_name(name).unlink(missing_ok=True)


def forget_built(settings: Settings) -> None:
    """Make the next build a full one (e.g. after the working database was rebuilt from the landing files)."""
    _built_file(settings).unlink(missing_ok=True)


def record_published(settings: Settings) -> None:
    """After a successful publish: the published copy reflects the last build's inputs."""
    built = _built_file(settings)
    if built.exists():
        _published_file(settings).write_text(built.read_text())
    else:
        _published_file(settings).unlink(missing_ok=True)


def is_published(settings: Settings, inputs: dict[str, str]) -> bool:
    """True when the published copy was built from exactly these inputs (nothing to build or publish)."""
    recorded = _published_file(settings)
    if not (settings.published_db.exists() and recorded.exists()):
        return False
    try:
        return json.loads(recorded.read_text()) == inputs
    except ValueError:
        return False


def forget_published(settings: Settings) -> None:
    """Make the next refresh build and publish even if nothing is new (e.g. after the published file was replaced)."""
    _published_file(settings).unlink(missing_ok=True)
