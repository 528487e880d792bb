"""A Dagster logger that prints one line per step to stderr: the progress display of `margins refresh`."""

import logging
import sys
import time

from dagster import InitLoggerContext, logger

_SHOWN = {"STEP_START": "…", "STEP_SUCCESS": "✓", "STEP_FAILURE": "✗", "STEP_SKIPPED": "-"}


class _ProgressHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None or event.event_type_value not in _SHOWN or not event.step_key:
            return
        step = event.step_key.replace("__", "/")
        if event.event_type_value == "STEP_START":
            self.started[step] = time.monotonic()
            print(f"  {_SHOWN['STEP_START']} {step}", file=sys.stderr, flush=True)
            return
        took = time.monotonic() - self.started.get(step, time.monotonic())
        print(f"  {_SHOWN[event.event_type_value]} {step} ({took:.1f} s)", file=sys.stderr, flush=True)


@logger(description="One line per step start and end on stderr (used by `margins refresh`).")
def progress_logger(init_context: InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("margins.progress")
    log.setLevel(logging.DEBUG)
    log.handlers = [_ProgressHandler()]
    log.propagate = False
    return log
