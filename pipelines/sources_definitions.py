"""The sources' part of the code location, loadable without dbt: `margins refresh` runs its sources from here, and
imports the whole code location (pipelines.definitions, which loads dbt's manifest) only when there is something to
build. Wiring only."""

from dagster import Definitions, colored_console_logger

from pipelines.assets.sources import source_assets
from pipelines.jobs import sources_refresh_job
from pipelines.progress import progress_logger
from pipelines.resources import MarginsSettings

sources_defs = Definitions(
    assets=source_assets,
    jobs=[sources_refresh_job],
    resources={"settings": MarginsSettings.from_env()},
    loggers={"console": colored_console_logger, "progress": progress_logger},
)
