"""When the dbt project itself changes, the incremental marts are rebuilt in full.

Incremental models rebuild only the days that new snapshots touch (dbt_project/macros/incremental_window.sql).
A changed model, macro or seed (e.g. a new row in model_aliases) can change every day, so the build after such a
change runs with ``--full-refresh``. The fingerprint of the project a build succeeded with is kept beside the
working database; a missing file (a new or moved warehouse) also means a full build.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb

from pipelines.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# Tests of the SQL's structure rather than the data (they recompute a whole history view) run in full builds
# and `make test`; a daily incremental build leaves them out.
STRUCTURAL_TAG = "structural"
INCREMENTAL_BUILD_EXCLUDES = ["--exclude", f"tag:{STRUCTURAL_TAG}"]
PROJECT_FILES = (
    ("dbt_project", "dbt_project.yml"),
    ("dbt_project/models", "**/*"),
    ("dbt_project/macros", "**/*"),
    ("seeds/reference", "*.csv"),
)


def project_fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for folder, pattern in PROJECT_FILES:
        for path in sorted((root / folder).glob(pattern)):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint_file(settings: Settings) -> Path:
    return settings.working_db.with_name("dbt_project.fingerprint")


def as_of_file(settings: Settings) -> Path:
    return settings.working_db.with_name("as_of")


def last_build_as_of(settings: Settings) -> date | None:
    """The as-of day of the last successful build, if recorded."""
    try:
        return date.fromisoformat(as_of_file(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def needs_full_refresh(settings: Settings, fingerprint: str | None = None) -> bool:
    """True unless the last successful build used exactly this project (models, macros, seeds) and an as-of day
    no later than this build's."""
    recorded = fingerprint_file(settings)
    same_project = (recorded.exists() and settings.working_db.exists()
                    and recorded.read_text().strip() == (fingerprint or project_fingerprint()))
    last_as_of = last_build_as_of(settings)
    return not same_project or last_as_of is None or settings.as_of < last_as_of


def record_successful_build(settings: Settings, fingerprint: str | None = None) -> None:
    """Record the project a build succeeded with: pass the fingerprint taken before it started, so a file edited
    during the build still triggers a full refresh next time."""
    fingerprint_file(settings).write_text((fingerprint or project_fingerprint()) + "\n")
    as_of_file(settings).write_text(settings.as_of.isoformat() + "\n")


def record_build_as_of(settings: Settings) -> None:
    """Write the as-of day the next `dbt build` uses into the working database (raw.build_as_of, read by the
    as_of_day() macro). A table, not a dbt var: a var that changes daily would make dbt re-parse every refresh."""
    settings.working_db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.working_db)) as connection:
        connection.execute("create schema if not exists raw")
        connection.execute("create or replace table raw.build_as_of as select ?::date as as_of",
                           [settings.as_of.isoformat()])
