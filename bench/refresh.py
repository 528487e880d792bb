"""`margins refresh --offline` on the bundled data, timed and profiled from its own output.

Runs ``.venv/bin/margins refresh --offline`` as a subprocess with a fresh temp ``MARGINS_DATA_DIR`` and
``DAGSTER_HOME`` (never ./warehouse). Profile sources, all from this one run:
- the progress lines on stderr (one per Dagster step, with the step's seconds), time-stamped as they arrive, which
  also gives the time before the first step starts (imports, code location, Dagster instance) and after the last;
- the refresh log ``$MARGINS_DATA_DIR/logs/refresh-*.log`` (dbt's console output): dbt's own elapsed time, the
  per-node times, and whether dbt could partially parse. (dbt's own artifacts of the build, run_results.json
  and dbt.log, are in the data directory's work/dbt_target/.)
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from bench.generate import REPO, assert_safe_dir

MARGINS = REPO / ".venv" / "bin" / "margins"
STEP_LINE = re.compile(r"^\s+([✓✗-])\s+(\S+)\s+\(([\d.]+) s\)")
NODE_LINE = re.compile(r"^\d+ of \d+ (?:OK created .*?(model)|OK loaded (seed) file|(PASS|FAIL|WARN|ERROR))\s+(\S+)"
                       r".*\[.*?in ([\d.]+)s\]")
FINISHED = re.compile(r"Finished running .* \(([\d.]+)s\)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ERROR_TAIL_LINES = 8


@dataclass
class RefreshRun:
    ok: bool
    wall_s: float
    exit_code: int
    load_before: str
    load_after: str
    cpu_s: float | None = None                                     # user + sys, the refresh and dbt under it
    first_step_at_s: float | None = None
    last_step_end_s: float | None = None
    steps: list[tuple[str, float]] = field(default_factory=list)
    dbt_elapsed_s: float | None = None
    dbt_nodes: dict[str, float] = field(default_factory=dict)      # kind -> summed seconds (2 threads overlap)
    dbt_slowest: list[tuple[str, float]] = field(default_factory=list)
    dbt_partial_parse: str | None = None
    summary_tail: str = ""
    error_tail: list[str] = field(default_factory=list)   # the last lines on stderr: why a failed refresh failed


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run_offline_refresh(workdir: Path, timeout_s: float = 900, as_of: str | None = None) -> RefreshRun:
    """The offline refresh of the bundled history into a new data directory (``workdir/refresh_data``)."""
    data_dir = workdir / "refresh_data"
    assert_safe_dir(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return run_refresh(workdir, data_dir, ["--offline"], {"MARGINS_AS_OF": as_of} if as_of else {},
                       timeout_s=timeout_s)


def run_refresh(workdir: Path, data_dir: Path, arguments: list[str], environment: dict[str, str],
                timeout_s: float = 900, label: str = "refresh") -> RefreshRun:
    """`margins refresh ARGUMENTS` into ``data_dir``, with only the MARGINS_* variables given (and a Dagster home
    inside the data directory), timed and profiled."""
    assert_safe_dir(data_dir)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MARGINS_")}
    env.update({"MARGINS_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home"),
                "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", **environment})
    load_before = loadavg()
    stdout_path = workdir / f"{label}_stdout.txt"
    started = time.perf_counter()
    steps, first_step, last_end = [], None, None
    error_tail: deque[str] = deque(maxlen=ERROR_TAIL_LINES)
    with open(stdout_path, "w") as stdout:
        process = subprocess.Popen([str(MARGINS), "refresh", *arguments], cwd=REPO, env=env, stdout=stdout,
                                   stderr=subprocess.PIPE, text=True)
        for line in process.stderr:
            now = time.perf_counter() - started
            error_tail.append(line.rstrip())
            if "…" in line and first_step is None:
                first_step = now
            match = STEP_LINE.match(line)
            if match:
                steps.append((match.group(2), float(match.group(3))))
                last_end = now
            if now > timeout_s:
                process.kill()
                break
        # wait4: the exit status and the CPU time of the refresh and the children it waited for (dbt)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = exit_code = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    run = RefreshRun(ok=exit_code == 0, wall_s=wall, exit_code=exit_code, load_before=load_before,
                     load_after=loadavg(), first_step_at_s=first_step, last_step_end_s=last_end, steps=steps,
                     cpu_s=usage.ru_utime + usage.ru_stime, error_tail=list(error_tail))
    run.summary_tail = stdout_path.read_text()[-400:]
    logs = sorted((data_dir / "logs").glob("refresh-*.log"), key=lambda path: path.stat().st_mtime)
    if logs:
        _profile_dbt(run, logs[-1].read_text(errors="replace"))
    return run


def _profile_dbt(run: RefreshRun, log: str) -> None:
    nodes: list[tuple[str, str, float]] = []
    for raw_line in log.splitlines():
        line = ANSI.sub("", raw_line)
        if "partial pars" in line.lower():
            run.dbt_partial_parse = line.strip()
        finished = FINISHED.search(line)
        if finished:
            run.dbt_elapsed_s = float(finished.group(1))
        match = NODE_LINE.match(line)
        if match:
            kind = match.group(1) or match.group(2) or "test"
            nodes.append((kind, match.group(4), float(match.group(5))))
    for kind, _, seconds in nodes:
        run.dbt_nodes[kind] = run.dbt_nodes.get(kind, 0.0) + seconds
    run.dbt_slowest = sorted(((name, seconds) for _, name, seconds in nodes), key=lambda pair: -pair[1])[:6]
