"""`margins-dbt`: the dbt command the refresh, `make manifest` and the tests run. It is dbt's own CLI with three
changes that save CPU and change no output:

- **No cyclic garbage collector.** A dbt process is short-lived and nearly every object it makes lives until it
  exits: the parsed project, the manifest and the graph (about a million objects). Python's cyclic collector scans
  them again and again as they accumulate and finds nothing to free: about a fifth of dbt's CPU in a full build.
  Reference counting still frees everything else, so leaving the collector off costs little memory (measured on the
  bundled warehouse: peak 1.11 -> 1.32 GB in a full build, 0.69 -> 0.75 GB in a one-day build; bench/README.md).
- **Jinja templates compiled by earlier dbt processes are reused** (pipelines.jinja_code_cache): about 1 s of CPU
  per build.
- **A debug event is not formatted for a log that drops it.** dbt formats every event for each of its logs (a JSON
  line for stdout, which dagster-dbt reads, and a text line for dbt.log) and only then lets Python's logging drop
  it by level. The refresh logs at info, and a build fires about 3,300 debug events: formatting them was about
  0.8 s of CPU in a one-day build. A log at debug level (`--debug`, `--log-level debug`) gets every line as before.
"""

from __future__ import annotations

import gc
import logging


def main() -> None:
    gc.disable()
    from pipelines import jinja_code_cache
    from pipelines.reference import REPO_ROOT

    jinja_code_cache.install(REPO_ROOT / "dbt_project" / "target")
    skip_formatting_dropped_debug_lines()
    from dbt.cli.main import cli

    try:
        cli()
    finally:
        gc.freeze()  # nor one final scan at exit


def skip_formatting_dropped_debug_lines() -> None:
    from dbt_common.events import logger as dbt_logger

    write_line = dbt_logger._Logger.write_line

    def write_line_if_kept(self: dbt_logger._Logger, msg: object) -> None:
        python_logger = self._python_logger
        if (msg.info.level in ("debug", "test") and python_logger is not None  # type: ignore[attr-defined]
                and not python_logger.isEnabledFor(logging.DEBUG) and not dbt_logger._is_print_event(msg)):
            return  # the logger would drop the line: dbt's send_to_logger logs these levels at DEBUG
        write_line(self, msg)

    dbt_logger._Logger.write_line = write_line_if_kept  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
