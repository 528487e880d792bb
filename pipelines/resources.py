"""Dagster resources for configuration: where the warehouse lives, whether to touch the network, the as-of day.

The dbt project's resource is in pipelines.dbt_resource: this module stays free of dbt, so the sources' part of the
code location (pipelines.sources_definitions) loads without it.
"""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from pipelines.settings import Settings, env_flag


class MarginsSettings(ConfigurableResource):
    """Where the warehouse lives and whether to touch the network (defaults from the environment)."""

    data_dir: str = ""
    offline: bool = False
    # YYYY-MM-DD; empty: MARGINS_AS_OF, else the run's UTC day (a scheduled run builds as of its own day)
    as_of: str = ""

    @classmethod
    def from_env(cls) -> MarginsSettings:
        return cls(data_dir=os.environ.get("MARGINS_DATA_DIR", "warehouse"), offline=env_flag("MARGINS_OFFLINE"))

    def settings(self) -> Settings:
        return Settings.from_env(data_dir=self.data_dir or None, offline=self.offline or None,
                                 as_of=self.as_of or None)
