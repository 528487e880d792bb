"""The dbt standby (pipelines.dbt_standby): `margins-dbt` hands its command to a process that imported dbt already,
with the same output, exit code and interrupt; a standby that took no command is stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.dbt_process import dbt_executable
from pipelines.dbt_resource import DBT_PROJECT_DIR
from pipelines.dbt_standby import SOCKET_ENV, DbtStandby, dbt_standby, remove_dead_standby_sockets
from tests.conftest import hand_over_dbt_parse, json_lines

LONG_QUERY = "select count(*) from range(20000000000)"   # some seconds of DuckDB: time to interrupt it


@pytest.fixture
def dbt_env(tmp_path) -> dict[str, str]:
    """A parse of the project for a scratch working database, and the environment `margins-dbt` runs with."""
    database = tmp_path / "margins.duckdb"
    hand_over_dbt_parse(database, tmp_path / "target")
    environment = {**os.environ, "MARGINS_WORK_DB": str(database)}
    environment.pop(SOCKET_ENV, None)
    return environment


def dbt_command(tmp_path: Path, *args: str) -> list[str]:
    return [dbt_executable(), "--log-format", "json", *args, "--project-dir", ".", "--profiles-dir", ".",
            "--target-path", str(tmp_path / "target")]


def run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def listening_standby(tmp_path: Path) -> Iterator[DbtStandby]:
    """A standby, once it listens (a command handed over before that is run by `margins-dbt` itself)."""
    with dbt_standby(dbt_executable(), tmp_path / "standby.log") as standby:
        socket_path = Path(os.environ[SOCKET_ENV])
        deadline = time.monotonic() + 60
        while not socket_path.is_socket():
            assert time.monotonic() < deadline and standby.process.poll() is None, "the standby never listened"
            time.sleep(0.05)
        yield standby


def messages(stdout: str) -> list[str]:
    return [event["info"]["msg"] for event in json_lines(stdout) if event["info"]["name"] != "MainReportVersion"]


def test_a_handed_over_command_prints_what_dbt_prints_and_exits_with_its_code(tmp_path, dbt_env) -> None:
    listed = dbt_command(tmp_path, "ls", "--select", "stg_fetch_log")
    failing = dbt_command(tmp_path, "run-operation", "no_such_macro")
    direct = [run(listed, dbt_env), run(failing, dbt_env)]
    for command, expected in zip((listed, failing), direct, strict=True):
        with listening_standby(tmp_path) as standby:
            handed = run(command, {**dbt_env, SOCKET_ENV: os.environ[SOCKET_ENV]})
        assert handed.returncode == expected.returncode
        assert messages(handed.stdout) == messages(expected.stdout)
        assert {event["info"]["pid"] for event in json_lines(handed.stdout)} == {standby.process.pid}
    assert direct[0].returncode == 0 and "inference_margins.staging.stg_fetch_log" in messages(direct[0].stdout)
    assert direct[1].returncode != 0


def test_an_interrupt_reaches_the_standby_as_it_would_reach_dbt(tmp_path, dbt_env) -> None:
    with listening_standby(tmp_path) as standby:
        process = subprocess.Popen(dbt_command(tmp_path, "show", "--inline", LONG_QUERY), cwd=DBT_PROJECT_DIR,
                                   env={**dbt_env, SOCKET_ENV: os.environ[SOCKET_ENV]}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            if '"ConcurrencyLine"' in line:   # the query is about to run
                break
        time.sleep(1)
        process.send_signal(signal.SIGINT)   # as dagster-dbt interrupts dbt
        code = process.wait(timeout=60)
        rest = process.stdout.read()
        assert standby.process.wait(timeout=60) == code
    assert code == 2, rest   # dbt's exit code for an interrupted command
    assert "Done. PASS=0" in rest


def test_a_standby_that_took_no_command_is_stopped_and_leaves_no_socket(tmp_path) -> None:
    with listening_standby(tmp_path) as standby:
        socket_path = Path(os.environ[SOCKET_ENV])
    assert standby.process.returncode is not None
    assert not socket_path.parent.exists()
    assert SOCKET_ENV not in os.environ


def test_without_a_standby_listening_margins_dbt_runs_dbt_itself(tmp_path, dbt_env) -> None:
    gone = tmp_path / "no-standby.sock"
    result = run(dbt_command(tmp_path, "ls", "--select", "stg_fetch_log"), {**dbt_env, SOCKET_ENV: str(gone)})
    assert result.returncode == 0, result.stdout[-2000:]
    assert "inference_margins.staging.stg_fetch_log" in messages(result.stdout)


def test_the_socket_of_a_standby_killed_with_its_refresh_is_removed_by_the_next(tmp_path) -> None:
    dead = Path(tempfile.mkdtemp(prefix="margins-dbt-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(dead / "standby.sock"))
    listener.close()   # as a killed standby leaves it: the file, no process listening
    with listening_standby(tmp_path) as standby:
        assert Path(os.environ[SOCKET_ENV]).parent.exists()
        assert standby.process.poll() is None
    assert not dead.exists()


def test_a_live_standby_survives_the_next_refresh_looking_for_dead_ones(tmp_path, dbt_env) -> None:
    with listening_standby(tmp_path) as standby:
        remove_dead_standby_sockets()   # what a second refresh's standby does first: it connects, sends nothing
        assert Path(os.environ[SOCKET_ENV]).is_socket()
        handed = run(dbt_command(tmp_path, "ls", "--select", "stg_fetch_log"),
                     {**dbt_env, SOCKET_ENV: os.environ[SOCKET_ENV]})
    assert handed.returncode == 0
    assert {event["info"]["pid"] for event in json_lines(handed.stdout)} == {standby.process.pid}
