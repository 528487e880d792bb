"""Dagster resources: the pipeline's configuration and the dbt project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject

from pipelines.settings import Settings, env_flag

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds" / "reference"
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class MarginsSettings(ConfigurableResource):
    """Where the warehouse lives and whether to touch the network (defaults from the environment)."""

    data_dir: str = ""
    offline: bool = False

    @classmethod
    def from_env(cls) -> MarginsSettings:
        return cls(data_dir=os.environ.get("MARGINS_DATA_DIR", "warehouse"), offline=env_flag("MARGINS_OFFLINE"))

    def settings(self) -> Settings:
        return Settings.from_env(data_dir=self.data_dir or None, offline=self.offline or None)


def dbt_executable() -> str:
    """The dbt installed beside this Python (the venv is not always on PATH, e.g. under cron or CI)."""
    return str(Path(sys.executable).with_name("dbt"))


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=dbt_executable())


def ensure_manifest() -> Path:
    """Parse the dbt project once when the manifest is missing or older than any dbt/seed file.

    The code location needs the manifest at load time; parsing on every load would cost seconds, so this
    only looks at file times unless something changed.
    """
    manifest = dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_project_file():
        return manifest
    environment = {**os.environ, "MARGINS_WORK_DB": str(Settings.from_env().working_db)}
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR)],
        check=True, cwd=DBT_PROJECT_DIR, env=environment,
    )
    return manifest


def _newest_project_file() -> float:
    paths = [*DBT_PROJECT_DIR.glob("*.yml"), *(DBT_PROJECT_DIR / "models").rglob("*"),
             *(DBT_PROJECT_DIR / "macros").rglob("*"), *(DBT_PROJECT_DIR / "tests").rglob("*"),
             *SEEDS_DIR.glob("*")]
    return max((path.stat().st_mtime for path in paths if path.is_file()), default=0.0)
