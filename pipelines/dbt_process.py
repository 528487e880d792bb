"""`margins-dbt`: the dbt command the refresh, `make manifest` and the tests run. It is dbt's own CLI with five
changes that save CPU and change no output:

- **No cyclic garbage collector.** A dbt process is short-lived and nearly every object it makes lives until it
  exits: the parsed project, the manifest and the graph (about a million objects). Python's cyclic collector scans
  them again and again as they accumulate and finds nothing to free: about a fifth of dbt's CPU in a full build.
  Reference counting still frees everything else, so leaving the collector off costs little memory (measured on the
  bundled warehouse: peak 1.11 -> 1.32 GB in a full build, 0.69 -> 0.75 GB in a one-day build; bench/README.md).
- **Jinja templates compiled by earlier dbt processes are reused** (pipelines.jinja_code_cache): about 1 s of CPU
  per build.
- **A debug event goes nowhere when no log keeps debug lines.** dbt makes every event into a message, formats it
  for each of its logs (a JSON line for stdout, which dagster-dbt reads, and a line for dbt.log) and only then lets
  Python's logging drop it by level. The refresh logs at info, and a one-day build fires about 3,300 debug events:
  about 1.4 s of CPU. With a log at debug level (`--debug`, `--log-level debug`, `--log-level-file debug`) every
  event is fired as before.
- **An event's message is built when it is read.** dbt makes each event's protobuf message from its fields as the
  event is made (``ParseDict``), debug events included, which then go nowhere: about 0.9 s of CPU per process in the
  test suite (py-spy), two thirds of it the debug events of every SQL statement. The message is now built on first
  read, from the same fields, so a fired event carries the same message.
- **A class's JSON schema is built once per process.** dbt validates the project, the profile and each test's result
  against its class's JSON schema and builds that schema again on every call (mashumaro, ~0.3 s for the project's).

DuckDB's thread count comes from MARGINS_DUCKDB_THREADS (profiles.yml); unset, ``run_dbt`` sets it to DuckDB's own
default, one thread per core this process may use (``duckdb_threads``).

`margins refresh` may have started a standby of this command ahead of the build (pipelines.dbt_standby): a
`margins-dbt` process then hands its command to the standby, which has imported dbt already.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipelines import dbt_standby

DUCKDB_THREADS_ENV = "MARGINS_DUCKDB_THREADS"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == dbt_standby.STANDBY_FLAG:
        sys.exit(dbt_standby.serve(Path(sys.argv[2]), prepare_dbt, run_dbt))
    code = dbt_standby.hand_over(sys.argv[1:])   # None: no standby took the command, run it here
    sys.exit(run_dbt(prepare_dbt(), sys.argv[1:]) if code is None else code)


def dbt_executable() -> str:
    """`margins-dbt`, installed beside this Python (the venv is not always on PATH, e.g. under cron or CI)."""
    return str(Path(sys.executable).with_name("margins-dbt"))


def prepare_dbt() -> Callable[..., Any]:
    """dbt's CLI, imported with the changes above (and the DuckDB adapter a build loads)."""
    gc.disable()
    from pipelines import jinja_code_cache
    from pipelines.reference import REPO_ROOT

    jinja_code_cache.install(REPO_ROOT / "dbt_project" / "target")
    skip_debug_events_no_log_keeps()
    build_event_messages_when_read()
    build_json_schemas_once()
    import dbt.adapters.duckdb  # noqa: F401 - loaded by every build; imported here, ahead of a standby's command
    from dbt.cli.main import cli

    return cli


def run_dbt(cli: Callable[..., Any], argv: list[str]) -> int:
    """Run dbt's CLI on ``argv``; its exit code."""
    os.environ[DUCKDB_THREADS_ENV] = duckdb_threads(os.environ)
    sys.argv = [sys.argv[0], *argv]
    try:
        cli()
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    finally:
        gc.freeze()  # nor one final scan at exit
    return 0


def duckdb_threads(environment: Mapping[str, str]) -> str:
    """The DuckDB thread count dbt builds with: MARGINS_DUCKDB_THREADS, else one per core this process may use
    (DuckDB's own default). The refresh resolves it the same way where it computes dbt's profile hash
    (dbt_resource), so the parse it hands over matches the profile dbt reads."""
    return environment.get(DUCKDB_THREADS_ENV) or str(len(os.sched_getaffinity(0)))


def skip_debug_events_no_log_keeps() -> None:
    """Let dbt fire a debug event only when one of its logs keeps debug lines (see the module docstring)."""
    from dbt.tracking import track_behavior_change_warn
    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.event_manager import EventManager
    from dbt_common.events.logger import PRINT_EVENT_NAMES

    fire_event = EventManager.fire_event

    def drops_debug(manager: EventManager) -> bool:
        """Every log drops debug lines and no callback but dbt's own, which reads only a warning, sees events."""
        return (all(logger._python_logger is not None and not logger._python_logger.isEnabledFor(logging.DEBUG)
                    for logger in manager.loggers)
                and all(callback is track_behavior_change_warn for callback in manager.callbacks))

    def fire_event_if_kept(self: EventManager, e: Any, level: Any = None, node: Any = None,
                           force_warn_or_error_handling: bool = False) -> None:
        if ((level or e.level_tag()) in (EventLevel.DEBUG, EventLevel.TEST) and not force_warn_or_error_handling
                and type(e).__name__ not in PRINT_EVENT_NAMES and drops_debug(self)):
            return
        fire_event(self, e, level, node, force_warn_or_error_handling)

    EventManager.fire_event = fire_event_if_kept  # type: ignore[method-assign]


def build_event_messages_when_read() -> None:
    """Make dbt's events build their protobuf message on first read (see the module docstring)."""
    from dbt_common.events.base_types import BaseEvent

    build_message = BaseEvent.__init__   # dbt's: checks the fields and sets pb_msg (a warning event if they don't fit)

    def keep_fields(self: BaseEvent, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "_fields", (args, dict(kwargs)))

    def read(self: BaseEvent, key: str) -> Any:
        # reached for names the event does not hold itself: pb_msg until it is built, then the message's fields
        if key == "pb_msg":
            args, kwargs = object.__getattribute__(self, "_fields")
            build_message(self, *args, **kwargs)
            return object.__getattribute__(self, "pb_msg")
        return getattr(self.pb_msg, key)

    def write(self: BaseEvent, key: str, value: Any) -> None:
        if key == "pb_msg":
            object.__setattr__(self, key, value)
        else:
            setattr(self.pb_msg, key, value)

    BaseEvent.__init__ = keep_fields  # type: ignore[method-assign]
    BaseEvent.__getattr__ = read  # type: ignore[method-assign]
    BaseEvent.__setattr__ = write  # type: ignore[method-assign]


def build_json_schemas_once() -> None:
    """Keep each class's JSON schema for the process (dbt reads it only to validate against it)."""
    from dbt_common.dataclass_schema import dbtClassMixin

    build_schema = dbtClassMixin.json_schema.__func__
    schemas: dict[type, dict] = {}

    def json_schema(cls: type) -> dict:
        if cls not in schemas:
            schemas[cls] = build_schema(cls)
        return schemas[cls]

    dbtClassMixin.json_schema = classmethod(json_schema)  # type: ignore[method-assign, assignment]


if __name__ == "__main__":
    main()
