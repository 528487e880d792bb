"""The dbt project as a Dagster resource: where it lives, the dbt CLI resource, and its manifest.

The dbt manifest is prepared before the code location loads, never by loading it: `make manifest` (which `make run`,
`make test` and `make ui` run first) parses the project, and under `dagster dev` dagster-dbt's
``DbtProject.prepare_if_dev()`` parses it again at load so edits show up. Elsewhere a missing or stale manifest is a
clear error (``require_manifest``) instead of a silent parse of several seconds.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

if TYPE_CHECKING:
    from packaging.version import Version

from pipelines import dbt_sources
from pipelines.dbt_process import DUCKDB_THREADS_ENV, dbt_executable, duckdb_threads
from pipelines.dbt_state import ManifestError, newest_parsed_file
from pipelines.reference import REPO_ROOT
from pipelines.settings import Settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class MarginsDbtCliResource(DbtCliResource):
    """`DbtCliResource` without two steps a refresh doesn't need before every `dbt build` (~6 s on 2 cores).

    dagster-dbt runs `dbt --version` (a second dbt process, which also asks PyPI for the latest version) and
    builds an in-process dbt adapter, used only by `fetch_row_counts()` / `fetch_column_metadata()`. The dbt
    it runs is the one installed beside this Python, so its version is dbt-core's here; row counts come from
    the publish step (pipelines.assets.warehouse), so no adapter is needed.
    """

    @cached_property
    def _cli_version(self) -> Version:
        if DBT_PYTHON_VERSION is None:  # no dbt-core in this environment: ask the executable
            return super()._cli_version
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: object) -> None:
        return None

    def cli(self, args: Sequence[str], *, context: Any = None, target_path: Path | None = None,
            **kwargs: Any) -> DbtCliInvocation:
        """`DbtCliResource.cli`, handing dbt a partial-parse file valid for this data directory first, unless the
        target already holds one (hand_over_project_parse)."""
        target_path = target_path or self._get_unique_target_path(context=context)
        project_dir = Path(self.project_dir)
        try:
            hand_over_project_parse(project_dir / "target", project_dir / target_path)
        except Exception:  # an optimisation only: dbt then parses the project itself
            logging.getLogger(__name__).warning("could not reuse dbt's partial parse", exc_info=True)
        return super().cli(args, context=context, target_path=target_path, **kwargs)


# Beside a target's partial_parse.msgpack: the target folder it was handed over to. A data directory copied or moved
# elsewhere has another working-file path, so the parse it carries no longer matches dbt's profile hash.
PARSED_FOR = "partial_parse.for"


def hand_over_project_parse(parsed_dir: Path, target_dir: Path) -> None:
    """``reuse_partial_parse`` into ``target_dir`` when it needs it (``needs_project_parse``), and note where. Noted
    also when the hand-over was refused: dbt then parses the project itself and leaves a parse valid here."""
    if needs_project_parse(parsed_dir, target_dir):
        reuse_partial_parse(parsed_dir, target_dir)
        (target_dir / PARSED_FOR).write_text(str(target_dir.resolve()))


def needs_project_parse(parsed_dir: Path, target_dir: Path) -> bool:
    """Whether ``target_dir`` lacks a partial parse valid here and as new as ``parsed_dir``'s. The last build's parse,
    left in the data directory's target, is valid as it is when the directory has not moved (~0.7 s saved)."""
    own = target_dir / "partial_parse.msgpack"
    project = parsed_dir / "partial_parse.msgpack"
    marker = target_dir / PARSED_FOR
    if not own.exists() or not marker.exists() or marker.read_text() != str(target_dir.resolve()):
        return True
    return project.exists() and project.stat().st_mtime > own.stat().st_mtime


def reuse_partial_parse(parsed_dir: Path, target_dir: Path) -> bool:
    """Let dbt reuse `make manifest`'s parse when only the working file's path differs (~4 s per build).

    dbt re-parses everything when a hash of the profile's connection values changed, and the profile's `path`
    is the data directory's working file, so a refresh into any other directory re-parsed the whole project.
    The path is not visible to the models (they see `target.database`, the file's stem, which is checked
    here), so the saved parse is handed over with the current profile's hash. Any changed file is still
    re-parsed by dbt as usual (and ensure_manifest re-parses when profiles.yml changes).
    """
    source = parsed_dir / "partial_parse.msgpack"
    if not source.exists():
        return False
    import msgpack

    with open(source, "rb") as handle:
        parsed = msgpack.unpack(handle, raw=False, strict_map_key=False)
    database, profile_hash = _current_profile()
    if any(node.get("database") not in (None, database) for node in parsed.get("nodes", {}).values()):
        return False
    parsed["state_check"]["profile_hash"] = {"name": "sha256", "checksum": profile_hash}
    target_dir.mkdir(parents=True, exist_ok=True)
    with open(target_dir / "partial_parse.msgpack", "wb") as handle:
        msgpack.pack(parsed, handle)
    return True


def _current_profile() -> tuple[str, str]:
    """The profile's database name and dbt's hash of its connection values, computed as dbt does."""
    import pprint
    from argparse import Namespace

    from dbt.config.runtime import load_profile
    from dbt.contracts.files import FileHash
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_invocation_context({**os.environ, DUCKDB_THREADS_ENV: duckdb_threads(os.environ)})
    set_from_args(Namespace(profiles_dir=str(DBT_PROJECT_DIR)), None)
    credentials = load_profile(str(DBT_PROJECT_DIR), {}, None, None).credentials
    connection_keys = sorted(credentials.connection_info())
    return credentials.database, FileHash.from_contents(pprint.pformat(connection_keys)).checksum


def dbt_resource() -> DbtCliResource:
    return MarginsDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR),
                                 dbt_executable=dbt_executable())


def manifest_is_current() -> bool:
    """True when the manifest exists and is no older than any file ``dbt parse`` reads (file times only)."""
    manifest = dbt_project.manifest_path
    return manifest.exists() and manifest.stat().st_mtime >= newest_parsed_file()


def require_manifest() -> Path:
    """The manifest, or ManifestError saying how to prepare it (the code location never parses at import)."""
    if not manifest_is_current():
        state = "is older than the dbt project" if dbt_project.manifest_path.exists() else "is missing"
        raise ManifestError(f"the dbt manifest {dbt_project.manifest_path} {state}: run `make manifest` "
                            "(`make run`, `make test` and `make ui` run it first)")
    return dbt_project.manifest_path


def ensure_manifest() -> Path:
    """Parse the dbt project when the manifest is missing or older than any dbt/seed file (what `make manifest`
    does, for tests and scripts that need a manifest before loading the code location)."""
    manifest = dbt_project.manifest_path
    if manifest_is_current():
        return manifest
    dbt_sources.write()  # the dbt files derived from the sources seed first, as `make manifest` does
    environment = {**os.environ, "MARGINS_WORK_DB": str(Settings.from_env().working_db)}
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR)],
        check=True, cwd=DBT_PROJECT_DIR, env=environment,
    )
    return manifest


class MarginsDbtProjectPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (``prepare_if_dev``: only under `dagster dev`), parsing the way `make manifest` does: with
    the dbt beside this Python (the venv is not on PATH under `make ui`) and the refresh's profile (so dbt can reuse
    the parse), and only when the manifest is older than the project."""

    def prepare(self, project: DbtProject) -> None:
        ensure_manifest()


MarginsDbtProjectPreparer().prepare_if_dev(dbt_project)  # a no-op for the CLI, tests and a deployed code location
