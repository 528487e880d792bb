"""great-expectations in a helper process, for the `margins refresh` command.

Importing great-expectations takes about 3 s of one core, and a refresh spends them before it can validate its
first batch. The command starts this helper first, so the import runs on the other core while Dagster loads and
the first source is fetched and parsed; each batch is then validated in the helper (the parsed rows pickled in,
the suite's result or its exception pickled back). Everything else about validation is as in-process
(pipelines.validation.validate_here runs in the helper). When the helper has died, batches are validated in-process.

Only the command's own process starts one (``pipelines.cli``): a caller that runs refreshes in its process, such as
the tests, imports great-expectations once and keeps it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from pipelines.validation import SuiteResult


class ValidationProcess:
    """The helper process and the pipe to it (requests are answered one at a time, in order)."""

    def __init__(self, log_path: Path) -> None:
        with open(log_path, "ab") as log:  # the helper's own messages (warnings, a crash) go to the refresh's log
            self.process = subprocess.Popen([sys.executable, "-m", "pipelines.validation_process"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        self.alive = True

    def validate(self, kind: str, rows: list[dict[str, Any]], source: str, min_rows: int | None
                 ) -> SuiteResult | None:
        if not self.alive:
            return None
        try:
            pickle.dump((kind, rows, source, min_rows), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
            failed, value = pickle.load(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.alive = False  # validated in-process from now on
            return None
        if failed:
            raise value
        return value

    def close(self) -> None:
        """Stop the helper: every request was answered, and a refresh with nothing to validate need not wait for
        the import to finish."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        self.process.terminate()
        self.process.wait()
        self.process.stdout.close()


@contextlib.contextmanager
def great_expectations_in_helper(log_path: Path) -> Iterator[None]:
    """Validate batches in a helper process for the block (unless great-expectations is imported here already)."""
    imported = sys.modules.get("pipelines.validation")
    if "great_expectations" in sys.modules or getattr(imported, "suite_runner", None) is not None:
        yield
        return
    # the helper first: its import of great-expectations runs while this process imports pandas (~0.4 s)
    helper = ValidationProcess(log_path)
    try:
        from pipelines import validation  # pandas: not for the commands that only read

        validation.suite_runner = helper
        try:
            yield
        finally:
            validation.suite_runner = None
    finally:
        helper.close()


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The helper: import great-expectations at once, then answer each request until the input ends."""
    from pipelines import validation

    validation.import_great_expectations()
    while True:
        try:
            kind, rows, source, min_rows = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = (False, validation.validate_here(kind, rows, source, min_rows))
        except Exception as error:  # noqa: BLE001 - raised again in the refresh, as if validated there
            answer = (True, _picklable(error))
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - e.g. an exception holding a lock: keep its type's name and message
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything printed goes to the log, not into the answers
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
