"""How fast this machine's CPU is right now, so timings taken at different hours can be compared.

The 2-core machine these targets are measured on changes speed by about 2x within a day (other guests on its host):
the same commit's `make test` took 11:44 on 2026-12-01 and 5:30 on 2026-12-02, using 1,283 and 611 CPU-seconds for
the same work. A fixed single-threaded workload, timed in CPU time (so a busy machine does not inflate it, only a
slow one), tells which kind of hour a measurement was taken in. `make bench` and `make test` print it.
"""

from __future__ import annotations

import hashlib
import statistics
import time

# The probe's median on 2026-12-02, 13:40-14:10 UTC, the hour in which fresh-clone `make test` runs took 5:30-5:41
# and the bench's one-day refresh 15.8 s.
REFERENCE_S = 0.27


def _workload() -> int:
    total = 0
    for number in range(3_000_000):       # interpreter loop: what dbt's and Dagster's Python spends most time in
        total += number * number % 7
    data = b"x" * 1_000_000
    for _ in range(200):                  # memory-bound hashing
        data = hashlib.sha256(data).digest() * 31_250
    return total


def cpu_probe_seconds(repeats: int = 3) -> float:
    """The median CPU time of the fixed workload (about a quarter of a second each on a fast hour)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        _workload()
        times.append(time.process_time() - start)
    return statistics.median(times)


def describe_speed(seconds: float) -> str:
    """E.g. "CPU probe 0.54 s: this hour runs at 0.50x the reference speed (0.27 s)"."""
    return (f"CPU probe {seconds:.2f} s: this hour runs at {REFERENCE_S / seconds:.2f}x the reference speed "
            f"({REFERENCE_S:.2f} s, bench/machine.py)")


if __name__ == "__main__":
    print(describe_speed(cpu_probe_seconds()))
