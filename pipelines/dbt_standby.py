"""A `margins-dbt` process started ahead of the build, for the `margins refresh` command.

A dbt process spends about 2 s of one core importing dbt before it reads its project, and a refresh's dbt build starts
only after its sources are fetched and parsed. The command starts this standby first (``dbt_standby``); it imports dbt
at idle priority (Linux's SCHED_IDLE, for the importing thread only), so the import uses only CPU that the
refresh's own process and its validation helper leave idle. When dagster-dbt then starts `margins-dbt build ...`,
that process (``hand_over``) passes its arguments, working directory, environment, stdout and stderr to the standby
over a Unix socket and waits: the standby runs the command as `margins-dbt` would, at normal priority, writing to
the same stdout (which dagster-dbt reads), and the waiting process exits with dbt's exit code once the standby has
exited (so DuckDB has closed the working database). A signal sent to the waiting process (dagster-dbt's interrupt)
is passed on to the standby.

A standby serves one command; without one listening, `margins-dbt` runs dbt itself. The refresh stops it when it took
no command (``DbtStandby.close``); it is in the refresh's process group and asks Linux to stop it when the refresh's
process ends, so it never outlives the refresh. This module imports only the standard library: the waiting process
never imports dbt.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SOCKET_ENV = "MARGINS_DBT_STANDBY"   # the standby's socket, for the `margins-dbt` processes of this refresh
STANDBY_FLAG = "--standby"
_DIRECTORY_PREFIX = "margins-dbt-"
_STARTED = b"started\n"
_HEADER = struct.Struct("!I")
_MAX_REQUEST_BYTES = 1 << 24


class DbtStandby:
    """The standby process and its socket (in a private temp directory)."""

    def __init__(self, dbt_executable: str, log_path: Path) -> None:
        remove_dead_standby_sockets()
        self.directory = Path(tempfile.mkdtemp(prefix=_DIRECTORY_PREFIX))
        self.socket_path = self.directory / "standby.sock"
        with open(log_path, "ab") as log:  # its messages before it takes a command (a crash) go to the refresh's log
            self.process = subprocess.Popen([dbt_executable, STANDBY_FLAG, str(self.socket_path)],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)

    def close(self) -> None:
        """Stop the standby. A command it took has ended by now (the build step waits for its exit), so a standby
        still running has taken none: there was nothing to build, and nothing to lose by killing it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        with contextlib.suppress(OSError):
            self.socket_path.unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()


def remove_dead_standby_sockets() -> None:
    """Remove the socket directories of standbys that were killed with their refresh (a killed process cleans
    nothing): those whose socket no process listens on. A directory without its socket yet is left alone."""
    for directory in Path(tempfile.gettempdir()).glob(f"{_DIRECTORY_PREFIX}*"):
        socket_path = directory / "standby.sock"
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(socket_path))
        except ConnectionRefusedError:   # a socket file with no listener: its standby is gone
            with contextlib.suppress(OSError):
                socket_path.unlink()
                directory.rmdir()
        except OSError:   # not ours (permissions), or no socket yet
            pass
        finally:
            probe.close()


@contextlib.contextmanager
def dbt_standby(dbt_executable: str, log_path: Path) -> Iterator[DbtStandby]:
    """A standby for the block: a `margins-dbt` process started in it (by dagster-dbt) hands its command over."""
    standby = DbtStandby(dbt_executable, log_path)
    previous = os.environ.get(SOCKET_ENV)
    os.environ[SOCKET_ENV] = str(standby.socket_path)
    try:
        yield standby
    finally:
        if previous is None:
            os.environ.pop(SOCKET_ENV, None)
        else:
            os.environ[SOCKET_ENV] = previous
        standby.close()


# ---- the process that hands its command over ------------------------------------------------------------------

def hand_over(argv: list[str]) -> int | None:
    """Have the standby named in the environment run ``argv``: dbt's exit code, or None when no standby took the
    command (the caller then runs dbt itself)."""
    path = os.environ.get(SOCKET_ENV)
    if not path:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        socket.send_fds(connection, [_HEADER.pack(len(request)), request], [sys.stdout.fileno(),
                                                                             sys.stderr.fileno()])
        replies = connection.makefile("rb")
        if replies.readline() != _STARTED:
            connection.close()
            return None   # the standby was stopping: run dbt here
    except OSError:
        connection.close()
        return None
    standby_pid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                            struct.calcsize("3i")))[0]
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda number, _frame: _pass_on(standby_pid, number))
    return _exit_code(replies.read())


def _pass_on(pid: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal_number)


def _exit_code(reply: bytes) -> int:
    """dbt's exit code from the standby's reply, read to its end: the standby's end of the socket closes only when
    the process is gone."""
    if not reply.startswith(b"exit "):
        print("margins-dbt: the dbt standby ended before dbt did", file=sys.stderr)
        return 1
    return int(reply.split()[1])


# ---- the standby ------------------------------------------------------------------------------------------------

def serve(socket_path: Path, prepare: Callable[[], Any], run: Callable[[Any, list[str]], int]) -> int:
    """Listen on ``socket_path`` while ``prepare()`` imports dbt at idle priority, take one command and ``run`` it
    with what ``prepare`` returned (the refresh stops the process when no command comes)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o077)   # only this user may hand a command over
    try:
        listener.bind(str(socket_path))
    finally:
        os.umask(old_umask)
    listener.listen(1)
    _exit_with_parent()
    # a parent that ignores these (a test runner's worker) passes that on: dbt stops on an interrupt here as it does
    # when started from a shell, whatever the refresh's parent ignores
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    prepared: list[Any] = []
    importing = threading.Thread(target=_at_idle_priority, args=(prepare, prepared), daemon=True)
    importing.start()
    while True:
        connection, _ = listener.accept()
        try:
            argv, cwd, environment = _take_command(connection)
            break
        except (OSError, ValueError, struct.error):   # a probe (remove_dead_standby_sockets) or a broken request
            connection.close()
    listener.close()
    _at_normal_priority(importing)   # the build is waiting for the import now
    importing.join()
    if not prepared:
        raise RuntimeError("dbt standby: importing dbt failed (the error is above)")
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environment)
    connection.sendall(_STARTED)
    try:
        code = run(prepared[0], argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    connection.sendall(f"exit {code}\n".encode())
    return code   # the socket closes when this process has exited


def _at_idle_priority(prepare: Callable[[], Any], prepared: list[Any]) -> None:
    with contextlib.suppress(AttributeError, OSError):   # Linux only: elsewhere at normal priority
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))   # this thread only (Linux: pid 0 = the caller)
    prepared.append(prepare())


def _at_normal_priority(thread: threading.Thread) -> None:
    """Back to normal priority, where the system allows it (root, or a RLIMIT_NICE that permits it); else the import
    finishes at idle priority, which is as fast while the refresh waits for its build and nothing else runs."""
    if thread.native_id is not None and thread.is_alive():
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(thread.native_id, os.SCHED_OTHER, os.sched_param(0))


def _exit_with_parent() -> None:
    """Ask Linux to stop this process when the refresh's process ends (it may be killed without its group)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:   # the refresh ended before the request above
        os._exit(0)


def _take_command(connection: socket.socket) -> tuple[list[str], str, dict[str, str]]:
    header, fds, _, _ = socket.recv_fds(connection, _HEADER.size, 2)
    (length,) = _HEADER.unpack(header)
    if len(fds) != 2 or length > _MAX_REQUEST_BYTES:
        raise ValueError(f"dbt standby: a request of {length} bytes with {len(fds)} file descriptors")
    body = connection.makefile("rb").read(length)
    if len(body) < length:
        raise ValueError("dbt standby: the request ended early")
    request = json.loads(body)
    # in the refresh's log (this process's stderr until now): which process ran dbt
    print(f"margins-dbt standby (pid {os.getpid()}) takes over: dbt {' '.join(request['argv'][:1])}",
          file=sys.stderr, flush=True)
    for fd, target in zip(fds, (1, 2), strict=True):   # dbt writes to the waiting process's stdout and stderr
        os.dup2(fd, target)
        os.close(fd)
    return request["argv"], request["cwd"], request["env"]
